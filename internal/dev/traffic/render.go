package traffic

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/reftrail/reftrail/internal/event"
)

// The JSON is written by hand rather than with encoding/json: it is several
// times faster for benchmark-sized plans, and it controls what a struct
// encoder would not, such as key order, timestamps as seconds or strings, and
// Meta's \uXXXX escaping of non-ASCII text.

// Fixed values of the rendered items; placeholders, not real ids.
const (
	// appID is the app that sent the business's replies (echo app_id).
	appID = "100000000000009"
	// adPostID is the Instagram post behind the ad.
	adPostID = "17900000000000101"
	// tokenTTL is how long an opt-in's notification token is valid.
	tokenTTL = 180 * day
)

// renderer writes items as Meta's JSON.
type renderer struct {
	people []person
	salt   uint64
}

// appendMid writes the message id of the item with seq, shaped like Meta's:
// "m_" and base64 on Messenger, base64 of "ig_..." on Instagram. It is unique
// in the plan (mix is a bijection), differs between seeds, and never contains
// a colon (hashed event ids start with "h:").
func (r *renderer) appendMid(b []byte, platform event.Platform, seq int32) []byte {
	var raw [19]byte
	n := 0
	if platform == event.Instagram {
		n = copy(raw[:], "ig_")
	} else {
		b = append(b, "m_"...)
	}
	id := mix(r.salt + uint64(seq))
	binary.BigEndian.PutUint64(raw[n:], id)
	binary.BigEndian.PutUint64(raw[n+8:], mix(id))
	return base64.RawURLEncoding.AppendEncode(b, raw[:n+16])
}

// mix is SplitMix64's finaliser, a bijection on uint64 that spreads bits.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// appendItem writes one messaging item.
func (r *renderer) appendItem(b []byte, it *item) []byte {
	p := &r.people[it.person]
	b = append(b, `{"sender":`...)
	if it.kind == kindEcho {
		// The business sent it: it is the sender, the person the recipient.
		b = appendParty(b, "id", p.account)
		b = append(b, `,"recipient":`...)
		b = appendPerson(b, p)
	} else {
		b = appendPerson(b, p)
		b = append(b, `,"recipient":`...)
		b = appendParty(b, "id", p.account)
	}
	b = append(b, `,"timestamp":`...)
	b = appendTimestamp(b, it.at, it.ts)
	switch it.kind {
	case kindReferral:
		b = append(b, `,"referral":`...)
		b = r.appendReferral(b, it, p)
	case kindMessage:
		b = append(b, `,"message":{"mid":"`...)
		b = r.appendMid(b, p.platform, it.seq)
		if it.attachment {
			b = append(b, `","attachments":[{"type":"image","payload":{"url":"https://example.invalid/photo.jpg"}}]`...)
		} else {
			b = append(b, `","text":`...)
			b = appendString(b, personTexts[int(it.variant)%len(personTexts)])
		}
		if it.campaign >= 0 {
			b = append(b, `,"referral":`...)
			b = r.appendReferral(b, it, p)
		}
		b = append(b, '}')
	case kindPostback:
		b = append(b, `,"postback":{"mid":"`...)
		b = r.appendMid(b, p.platform, it.seq)
		title, payload := "Track my order", "MENU_TRACK_ORDER"
		switch {
		case it.campaign >= 0 && p.platform == event.Instagram:
			ib := icebreakers[int(it.variant)%len(icebreakers)]
			title, payload = ib[0], ib[1]
		case it.campaign >= 0:
			title, payload = "Get Started", "GET_STARTED"
		}
		b = append(b, `","title":`...)
		b = appendString(b, title)
		b = append(b, `,"payload":`...)
		b = appendString(b, payload)
		if it.campaign >= 0 {
			b = append(b, `,"referral":`...)
			b = r.appendReferral(b, it, p)
		}
		b = append(b, '}')
	case kindOptin:
		b = r.appendOptin(b, it, p)
	case kindEcho:
		b = append(b, `,"message":{"mid":"`...)
		b = r.appendMid(b, p.platform, it.seq)
		b = append(b, `","is_echo":true,"app_id":`+appID+`,"text":`...)
		b = appendString(b, businessTexts[int(it.variant)%len(businessTexts)])
		b = append(b, '}')
	case kindRead:
		// Instagram names the message read, Messenger a watermark time.
		if p.platform == event.Instagram {
			b = append(b, `,"read":{"mid":"`...)
			b = r.appendMid(b, p.platform, it.target)
			b = append(b, `"}`...)
		} else {
			b = append(b, `,"read":{"watermark":`...)
			b = strconv.AppendInt(b, it.at, 10)
			b = append(b, '}')
		}
	case kindDelivery:
		b = append(b, `,"delivery":{"mids":["`...)
		b = r.appendMid(b, p.platform, it.target)
		b = append(b, `"],"watermark":`...)
		b = strconv.AppendInt(b, it.at, 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendReferral writes the referral object of campaign it.campaign.
func (r *renderer) appendReferral(b []byte, it *item, p *person) []byte {
	c := &campaigns[it.campaign]
	b = append(b, `{"ref":`...)
	b = appendString(b, c.ref)
	switch c.source {
	case sourceAds:
		b = append(b, `,"ad_id":"`+c.adID+`","source":"ADS","type":"OPEN_THREAD","ads_context_data":{"ad_title":"Winter boots","photo_url":"https://example.invalid/ads/winter-boots.jpg","post_id":"`+adPostID+`"}}`...)
	case sourceChatPlugin:
		b = append(b, `,"source":"CUSTOMER_CHAT_PLUGIN","type":"OPEN_THREAD","referer_uri":`...)
		b = appendString(b, chatPluginPages[int(it.variant)%len(chatPluginPages)])
		if p.guest {
			b = append(b, `,"is_guest_user":true`...)
		}
		b = append(b, '}')
	default:
		b = append(b, `,"source":"`...)
		b = append(b, shortlinkSource(p.platform, it.variant)...)
		b = append(b, `","type":"OPEN_THREAD"}`...)
	}
	return b
}

// shortlinkSource is the source Meta writes for an m.me or ig.me link:
// SHORTLINK for m.me, mostly SHORTLINKS for ig.me (Meta's pages spell it
// both ways, and so do its payloads).
func shortlinkSource(platform event.Platform, variant uint8) string {
	if platform == event.Instagram && variant%4 != 0 {
		return "SHORTLINKS"
	}
	return "SHORTLINK"
}

// appendOptin writes an m.me/rn recurring-notification opt-in carrying the
// campaign's ref. The token is a placeholder; real ones are credentials.
func (r *renderer) appendOptin(b []byte, it *item, p *person) []byte {
	b = append(b, `,"optin":{"type":"notification_messages","title":"Weekly deals","ref":`...)
	b = appendString(b, campaigns[it.campaign].ref)
	b = append(b, `,"payload":"DEALS_OPTIN"`...)
	if p.platform == event.Messenger {
		b = append(b, `,"source":"`...)
		b = append(b, shortlinkSource(p.platform, it.variant)...)
		b = append(b, '"')
	}
	b = append(b, `,"notification_messages_token":"demo-token-`...)
	b = strconv.AppendInt(b, int64(it.seq), 10)
	b = append(b, `","notification_messages_topic":"weekly deals","notification_messages_frequency":"WEEKLY","notification_messages_timezone":"UTC","token_expiry_timestamp":`...)
	b = strconv.AppendInt(b, it.at+tokenTTL, 10)
	return append(b, `,"user_token_status":"NOT_REFRESHED","notification_messages_status":"RESUME NOTIFICATIONS"}`...)
}

// appendPerson writes the person's side: an id, or a chat-plugin guest's
// user_ref.
func appendPerson(b []byte, p *person) []byte {
	if p.guest {
		return appendParty(b, "user_ref", p.id)
	}
	return appendParty(b, "id", p.id)
}

func appendParty(b []byte, key, id string) []byte {
	b = append(b, `{"`...)
	b = append(b, key...)
	b = append(b, `":`...)
	b = appendString(b, id)
	return append(b, '}')
}

// appendTimestamp writes a Unix ms time in form f. Seconds forms assume at is
// whole seconds (see generator.add).
func appendTimestamp(b []byte, at int64, f tsForm) []byte {
	if f.inSeconds() {
		at /= second
	}
	if f == tsMillis || f == tsSeconds {
		return strconv.AppendInt(b, at, 10)
	}
	b = append(b, '"')
	b = strconv.AppendInt(b, at, 10)
	return append(b, '"')
}

// appendString writes s as a JSON string the way Meta does: non-ASCII as
// \uXXXX (UTF-16, surrogate pairs beyond the BMP), which is why signatures
// must be checked on the bytes received, not on re-encoded JSON.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', byte(c))
		case c < 0x20 || c >= utf8.RuneSelf:
			units := []rune{c}
			if c >= 0x10000 {
				hi, lo := utf16.EncodeRune(c)
				units = []rune{hi, lo}
			}
			for _, u := range units {
				b = append(b, '\\', 'u', hex[u>>12&0xf], hex[u>>8&0xf], hex[u>>4&0xf], hex[u&0xf])
			}
		default:
			b = append(b, byte(c))
		}
	}
	return append(b, '"')
}
