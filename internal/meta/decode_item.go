package meta

import (
	"encoding/json"
	"strings"

	"github.com/reftrail/reftrail/internal/event"
)

// envelope is the webhook body as Meta sends it. Object is a pointer so that a
// missing "object" is told apart from an empty one.
type envelope struct {
	Object *string `json:"object"`
	Entry  []entry `json:"entry"`
}

// entry is one Page or Instagram account's share of a delivery. ID is the
// account the subscription belongs to. Meta fills one of the lists: messaging
// (primary receiver), standby (handover protocol, secondary receiver) or, in
// some Instagram subscriptions, changes.
type entry struct {
	ID        flexID   `json:"id"`
	Messaging []item   `json:"messaging"`
	Standby   []item   `json:"standby"`
	Changes   []change `json:"changes"`

	// Set by decodeLayered only: the list was not an array.
	messagingErr, standbyErr, changesErr error
}

// change is the Instagram {field, value} form. Value stays raw because only the
// messaging fields carry a messaging-shaped item; others (comments, mentions)
// have other shapes that must not fail the typed decode.
type change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`

	err error // set by decodeLayered: the element did not decode
}

func (c *change) setErr(err error) { c.err = err }

// messagingFields are the changes fields whose value is a messaging item, as
// the Instagram webhook field names spell them (both spellings of referral(s)
// occur in Meta's pages).
var messagingFields = map[string]bool{
	"messages":                     true,
	"message_echoes":               true,
	"messaging_postbacks":          true,
	"messaging_referral":           true,
	"messaging_referrals":          true,
	"messaging_optins":             true,
	"messaging_seen":               true,
	"message_reads":                true,
	"message_deliveries":           true,
	"message_reactions":            true,
	"message_edit":                 true,
	"messaging_handover":           true,
	"messaging_policy_enforcement": true,
	"standby":                      true,
}

// item is one messaging, standby or changes-value item. Only what reftrail
// keeps is declared: text, attachments, quick replies and tokens are never
// decoded. The present fields only mark which not-modelled event this is.
type item struct {
	Sender    party     `json:"sender"`
	Recipient party     `json:"recipient"`
	Timestamp timestamp `json:"timestamp"`
	Message   *message  `json:"message"`
	Postback  *postback `json:"postback"`
	Referral  *referral `json:"referral"`
	Optin     *optin    `json:"optin"`

	Read              present `json:"read"`
	Delivery          present `json:"delivery"`
	Reaction          present `json:"reaction"`
	MessageEdit       present `json:"message_edit"`
	PassThreadControl present `json:"pass_thread_control"`
	TakeThreadControl present `json:"take_thread_control"`
	RequestThreadCtrl present `json:"request_thread_control"`
	AppRoles          present `json:"app_roles"`
	PolicyEnforcement present `json:"policy_enforcement"`
	AccountLinking    present `json:"account_linking"`

	err error // set by decodeLayered: the element did not decode
}

func (it *item) setErr(err error) { it.err = err }

// party is a sender or recipient: a PSID, IGSID, Page or Instagram account ID,
// or the chat plugin's user_ref for guests without a PSID.
type party struct {
	ID      flexID `json:"id"`
	UserRef flexID `json:"user_ref"`
}

// who is the party's id, else its user_ref, else "".
func (p *party) who() string {
	if p.ID.s != "" {
		return p.ID.s
	}
	return p.UserRef.s
}

// message is a message or, with IsEcho, an echo of one the business sent.
type message struct {
	MID       string    `json:"mid"`
	IsEcho    bool      `json:"is_echo"`
	IsDeleted bool      `json:"is_deleted"`
	Referral  *referral `json:"referral"`
}

// postback is an Icebreaker tap (Instagram) or a button such as Get
// Started (Messenger).
type postback struct {
	MID      string    `json:"mid"`
	Title    *string   `json:"title"`
	Payload  *string   `json:"payload"`
	Referral *referral `json:"referral"`
}

// referral is the link, ad or plugin a person came from, standalone or
// inside a message or postback.
type referral struct {
	Ref        string      `json:"ref"`
	Source     string      `json:"source"`
	Type       string      `json:"type"`
	AdID       flexID      `json:"ad_id"`
	RefererURI *string     `json:"referer_uri"`
	AdsContext *adsContext `json:"ads_context_data"`
}

// adsContext is ads_context_data of click-to-message ads.
type adsContext struct {
	AdTitle   *string `json:"ad_title"`
	PhotoURL  *string `json:"photo_url"`
	VideoURL  *string `json:"video_url"`
	PostID    flexID  `json:"post_id"`
	ProductID flexID  `json:"product_id"`
	FlowID    flexID  `json:"flow_id"`
}

// optin declares no token, payload or timezone: the token is a credential
// and the payload is the business's free text.
type optin struct {
	Type      string  `json:"type"`
	Title     *string `json:"title"`
	Topic     *string `json:"notification_messages_topic"`
	Frequency *string `json:"notification_messages_frequency"`
	Status    *string `json:"notification_messages_status"`
	Ref       string  `json:"ref"`
	Source    string  `json:"source"`
	// UserRef identifies the person for checkbox-plugin opt-ins, which come
	// without a sender.
	UserRef flexID `json:"user_ref"`
}

// Skip keys of Result.Skipped: a fixed set, so they are safe as metric labels.
const (
	SkipRead     = "read"     // message_reads; Instagram's messaging_seen too
	SkipDelivery = "delivery" // message_deliveries
	SkipReaction = "reaction" // message_reactions
	SkipEdit     = "message_edit"
	// SkipDeleted is a message with is_deleted (Instagram unsend). It reuses
	// the original mid, so turning it into an event would replace the original
	// message's row in ClickHouse.
	SkipDeleted  = "message_deleted"
	SkipHandover = "handover" // pass/take/request_thread_control, app_roles
	SkipPolicy   = "policy_enforcement"
	SkipLinking  = "account_linking"
	// SkipChange is a changes element whose field is not a messaging field
	// (comments, mentions, story insights, ...).
	SkipChange  = "change"
	SkipUnknown = "unknown"
)

// decoder accumulates the Result of one payload.
type decoder struct {
	platform event.Platform
	src      Source
	res      Result
}

// result is the Result, with Events nil rather than empty when every item
// was skipped or bad, so both decode paths return the same value.
func (d *decoder) result() Result {
	if len(d.res.Events) == 0 {
		d.res.Events = nil
	}
	return d.res
}

func (d *decoder) bad(path string, r Reason, detail string) {
	d.res.Bad = append(d.res.Bad, ItemError{Path: path, Reason: r, Detail: detail})
}

func (d *decoder) skip(key string) {
	if d.res.Skipped == nil {
		d.res.Skipped = make(map[string]int)
	}
	d.res.Skipped[key]++
}

// entry decodes one entry's lists in a fixed order: messaging, standby, changes.
func (d *decoder) entry(i int, e *entry) {
	d.list(i, "messaging", e.Messaging, e.messagingErr, &e.ID)
	d.list(i, "standby", e.Standby, e.standbyErr, &e.ID)
	if e.changesErr != nil {
		d.bad(entryPath(i, "changes", -1), ReasonInvalidEntry, "changes is not an array")
	}
	for j := range e.Changes {
		c := &e.Changes[j]
		if c.err != nil {
			d.bad(entryPath(i, "changes", j), ReasonInvalidItem, typeDetail(c.err))
			continue
		}
		if !messagingFields[c.Field] {
			d.skip(SkipChange)
			continue
		}
		var it item
		if err := json.Unmarshal(c.Value, &it); err != nil {
			d.bad(entryPath(i, "changes", j), ReasonInvalidItem, "value: "+typeDetail(err))
			continue
		}
		d.item(i, "changes", j, &it, &e.ID)
	}
}

// list decodes a messaging or standby list; items that failed to decode (in
// decodeLayered only) become invalid_item.
func (d *decoder) list(i int, name string, items []item, listErr error, entryID *flexID) {
	if listErr != nil {
		d.bad(entryPath(i, name, -1), ReasonInvalidEntry, name+" is not an array")
		return
	}
	for j := range items {
		if items[j].err != nil {
			d.bad(entryPath(i, name, j), ReasonInvalidItem, typeDetail(items[j].err))
			continue
		}
		d.item(i, name, j, &items[j], entryID)
	}
}

// classify says which event kind an item is, or which Skip key counts it.
// Precedence follows how specific the content is: a message (or echo) or a
// postback may carry a referral, which then belongs to them.
func classify(it *item) (event.Kind, string) {
	switch {
	case it.Message != nil && it.Message.IsDeleted:
		return "", SkipDeleted
	case it.Message != nil && it.Message.IsEcho:
		return event.KindEcho, ""
	case it.Message != nil:
		return event.KindMessage, ""
	case it.Postback != nil:
		return event.KindPostback, ""
	case it.Optin != nil:
		return event.KindOptin, ""
	case it.Referral != nil:
		return event.KindReferral, ""
	case bool(it.Read):
		return "", SkipRead
	case bool(it.Delivery):
		return "", SkipDelivery
	case bool(it.Reaction):
		return "", SkipReaction
	case bool(it.MessageEdit):
		return "", SkipEdit
	case bool(it.PassThreadControl || it.TakeThreadControl || it.RequestThreadCtrl || it.AppRoles):
		return "", SkipHandover
	case bool(it.PolicyEnforcement):
		return "", SkipPolicy
	case bool(it.AccountLinking):
		return "", SkipLinking
	}
	return "", SkipUnknown
}

// item turns one decoded item into an event, a skip count or an ItemError.
//
// Sides: the person is sender and the business recipient, except for echoes,
// which the business sent. AccountID is the entry id, the account the
// subscription belongs to and the id ingest keys raw records by; it is the
// same for a person's messages and the business's echoes even where Meta's
// item ids use another id space. The item's business side is the fallback
// when the entry has no id, and a mismatch is counted, not rejected.
func (d *decoder) item(i int, list string, j int, it *item, entryID *flexID) {
	kind, skip := classify(it)
	if skip != "" {
		d.skip(skip)
		return
	}
	person, business := &it.Sender, &it.Recipient
	if kind == event.KindEcho {
		person, business = business, person
	}
	participant := person.who()
	if participant == "" && kind == event.KindOptin {
		participant = it.Optin.UserRef.s
	}
	switch {
	case it.Sender.who() == "" && (kind != event.KindOptin || participant == ""):
		d.bad(entryPath(i, list, j), ReasonMissingSender, "sender has no id or user_ref")
		return
	case it.Recipient.who() == "":
		d.bad(entryPath(i, list, j), ReasonMissingRecipient, "recipient has no id or user_ref")
		return
	case !it.Timestamp.set:
		d.bad(entryPath(i, list, j), ReasonMissingTimestamp, "timestamp is missing")
		return
	case it.Timestamp.err != "":
		d.bad(entryPath(i, list, j), ReasonInvalidTimestamp, it.Timestamp.err)
		return
	case !plausibleTime(it.Timestamp.ms, d.src.ReceivedTime):
		d.bad(entryPath(i, list, j), ReasonInvalidTimestamp, "timestamp is before 2010 or more than a day after the payload was received")
		return
	}
	account := entryID.s
	if account == "" {
		account = business.who()
	} else if business.who() != account {
		d.res.AccountMismatches++
	}

	ev := event.Event{
		Platform:      d.platform,
		Kind:          kind,
		AccountID:     account,
		ParticipantID: participant,
		EventTime:     it.Timestamp.ms,
		ReceivedTime:  d.src.ReceivedTime,
		Thread:        event.ThreadUnknown,
		RawPartition:  d.src.Partition,
		RawOffset:     d.src.Offset,
	}
	var mid string
	switch kind {
	case event.KindMessage:
		mid = it.Message.MID
		ev.Referral = toReferral(it.Message.Referral)
	case event.KindEcho:
		// A referral on an echo would be the business's own link: not a touch.
		mid = it.Message.MID
	case event.KindPostback:
		mid = it.Postback.MID
		ev.PostbackTitle = it.Postback.Title
		ev.PostbackPayload = it.Postback.Payload
		ev.Referral = toReferral(it.Postback.Referral)
	case event.KindOptin:
		ev.Optin = toOptin(it.Optin)
		if it.Optin.Ref != "" {
			ev.Referral = &event.Referral{Ref: it.Optin.Ref, Source: it.Optin.Source}
		}
	case event.KindReferral:
		ev.Referral = toReferral(it.Referral)
	}
	if mid != "" {
		ev.MessageID = &mid
	}
	ev.Thread = threadOf(kind, ev.Referral != nil)
	if ev.Referral != nil && !validRef(ev.Referral.Ref) {
		d.res.InvalidRefs++
	}
	ev.EventID = eventID(&ev)
	d.res.Events = append(d.res.Events, ev)
}

// threadOf is the thread rule: a referral inside a message or postback came
// with the first interaction of a new thread; a standalone referral revived an
// existing one. An opt-in with a ref is UNKNOWN: Meta does not say whether the
// conversation existed (an m.me/rn link or a checkbox plugin may be the first
// contact). Without a referral the thread state is unknown.
func threadOf(kind event.Kind, hasReferral bool) event.Thread {
	if !hasReferral {
		return event.ThreadUnknown
	}
	switch kind {
	case event.KindMessage, event.KindPostback:
		return event.ThreadNew
	case event.KindReferral:
		return event.ThreadExisting
	}
	return event.ThreadUnknown
}

func toReferral(r *referral) *event.Referral {
	if r == nil {
		return nil
	}
	out := &event.Referral{
		Ref:        r.Ref,
		Source:     r.Source,
		Type:       r.Type,
		AdID:       r.AdID.ptr(),
		RefererURI: r.RefererURI,
	}
	if a := r.AdsContext; a != nil {
		out.AdsContext = &event.AdsContext{
			AdTitle:   a.AdTitle,
			PhotoURL:  a.PhotoURL,
			VideoURL:  a.VideoURL,
			PostID:    a.PostID.ptr(),
			ProductID: a.ProductID.ptr(),
			FlowID:    a.FlowID.ptr(),
		}
	}
	return out
}

// toOptin keeps type, topic (notification_messages_topic, the registered
// topic), title (the request's text), frequency and the normalised status.
func toOptin(o *optin) *event.Optin {
	return &event.Optin{Type: o.Type, Topic: o.Topic, Title: o.Title, Frequency: o.Frequency, Status: optinStatus(o.Status)}
}

// optinStatus normalises notification_messages_status: Meta writes "STOP
// NOTIFICATIONS" and "RESUME NOTIFICATIONS" (other references use
// underscores), and queries must tell a stopped person by one value. Any
// other status is kept as Meta sent it.
func optinStatus(s *string) *string {
	if s == nil {
		return nil
	}
	word, _, _ := strings.Cut(strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(*s)), "_", " "), " ")
	switch word {
	case event.OptinStop, event.OptinResume:
		return &word
	}
	return s
}

// maxRefLen is Meta's limit on a ref parameter.
const maxRefLen = 2083

// validRef reports whether ref follows Meta's rules: at most 2,083 characters
// of letters, digits, '-', '_' and '='. An empty ref (ads, plugins) is valid.
func validRef(ref string) bool {
	if len(ref) > maxRefLen {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}
