package meta

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/reftrail/reftrail/internal/event"
)

// hashedIDPrefix marks event ids that are hashes, so they can never collide
// with a Meta mid and a reader can tell the two apart. Meta's mids ("m_...",
// "mid.$...", base64 on Instagram) contain no colon.
const hashedIDPrefix = "h:"

// eventIDDomain versions the hashed id scheme: changing what is hashed must
// change it, since the old and new ids of one interaction would no longer
// deduplicate.
const eventIDDomain = "reftrail.event_id.v1"

// eventID is the event's stable id: the mid where Meta gave one (messages,
// echoes, postbacks), otherwise hashedIDPrefix and the first 32 hex digits (128
// bits) of a SHA-256 over every field of ev but its id, receive time and raw
// lineage. Those three differ between a redelivery and the original, so they
// are left out; every field that tells two interactions apart (platform,
// kind, account, participant, event time, thread, referral, postback and
// opt-in fields) is in. Each string is length-prefixed and each optional
// field carries a presence byte, so no two distinct events hash the same
// input: "ab"+"c" differs from "a"+"bc", and nil from "".
//
// Hazard: it hashes the normalised event, so a change in normalisation (the
// timestamp rule, the account choice) changes ids; bump eventIDDomain then.
func eventID(ev *event.Event) string {
	if ev.MessageID != nil && *ev.MessageID != "" {
		return *ev.MessageID
	}
	var buf [512]byte
	b := append(buf[:0], eventIDDomain...)
	b = appendString(b, string(ev.Platform))
	b = appendString(b, string(ev.Kind))
	b = appendString(b, ev.AccountID)
	b = appendString(b, ev.ParticipantID)
	b = binary.BigEndian.AppendUint64(b, uint64(ev.EventTime))
	b = appendString(b, string(ev.Thread))
	b = appendOptional(b, ev.PostbackTitle)
	b = appendOptional(b, ev.PostbackPayload)
	if r := ev.Referral; r == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, r.Ref)
		b = appendString(b, r.Source)
		b = appendString(b, r.Type)
		b = appendOptional(b, r.AdID)
		b = appendOptional(b, r.RefererURI)
		if a := r.AdsContext; a == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			for _, s := range [...]*string{a.AdTitle, a.PhotoURL, a.VideoURL, a.PostID, a.ProductID, a.FlowID} {
				b = appendOptional(b, s)
			}
		}
	}
	if o := ev.Optin; o == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, o.Type)
		b = appendOptional(b, o.Topic)
		b = appendOptional(b, o.Frequency)
		b = appendOptional(b, o.Status)
		// Title came later: hashed only when present, so that the ids of
		// opt-ins without one did not change. Still unambiguous: every
		// field before it is self-delimiting and it is last.
		if o.Title != nil {
			b = appendOptional(b, o.Title)
		}
	}
	sum := sha256.Sum256(b)
	return hashedIDPrefix + hex.EncodeToString(sum[:16])
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendOptional(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendString(append(b, 1), *s)
}
