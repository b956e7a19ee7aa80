// Package event defines reftrail.ReferralEvent, the record enrich produces to
// EVENTS_TOPIC and sink stores, and its enums. It has no dependencies, so that
// every package that speaks of events (the Meta decoder, ClickHouse, the demo
// planner) can import it without linking a wire format; the Avro encoding lives
// in internal/eventcodec.
package event

// Platform is the Meta product an event came from.
type Platform string

// Platforms, as the Avro enum spells them.
const (
	Instagram Platform = "INSTAGRAM"
	Messenger Platform = "MESSENGER"
)

// Kind is the interaction an event records.
type Kind string

// Kinds, as the Avro enum spells them.
const (
	KindReferral Kind = "REFERRAL"
	KindMessage  Kind = "MESSAGE"
	KindPostback Kind = "POSTBACK"
	KindOptin    Kind = "OPTIN"
	KindEcho     Kind = "ECHO"
)

// Thread says whether a referral opened a new conversation or revived one.
type Thread string

// Thread states: NEW for a referral inside a first message or postback, EXISTING
// for a standalone referral, UNKNOWN for events without a referral and for
// opt-ins (Meta does not say whether their thread existed).
const (
	ThreadNew      Thread = "NEW"
	ThreadExisting Thread = "EXISTING"
	ThreadUnknown  Thread = "UNKNOWN"
)

// Event is one interaction of a person with a business account. Field names are
// a contract with subscribers (docs/ARCHITECTURE.md, "The event"); times are Unix milliseconds.
type Event struct {
	EventID         string    `avro:"event_id"`
	Platform        Platform  `avro:"platform"`
	Kind            Kind      `avro:"kind"`
	AccountID       string    `avro:"account_id"`
	ParticipantID   string    `avro:"participant_id"`
	EventTime       int64     `avro:"event_time"`
	ReceivedTime    int64     `avro:"received_time"`
	Thread          Thread    `avro:"thread"`
	Referral        *Referral `avro:"referral"`
	MessageID       *string   `avro:"message_id"`
	PostbackTitle   *string   `avro:"postback_title"`
	PostbackPayload *string   `avro:"postback_payload"`
	Optin           *Optin    `avro:"optin"`
	RawPartition    int32     `avro:"raw_partition"`
	RawOffset       int64     `avro:"raw_offset"`
}

// Referral is the link, ad or plugin that brought the person, as Meta sent it.
// Ref, Source and Type are empty when Meta left them out.
type Referral struct {
	Ref        string      `avro:"ref"`
	Source     string      `avro:"source"`
	Type       string      `avro:"type"`
	AdID       *string     `avro:"ad_id"`
	RefererURI *string     `avro:"referer_uri"`
	AdsContext *AdsContext `avro:"ads_context"`
}

// AdsContext is Meta's ads_context_data for click-to-message ads.
type AdsContext struct {
	AdTitle   *string `avro:"ad_title"`
	PhotoURL  *string `avro:"photo_url"`
	VideoURL  *string `avro:"video_url"`
	PostID    *string `avro:"post_id"`
	ProductID *string `avro:"product_id"`
	FlowID    *string `avro:"flow_id"`
}

// Optin is an m.me/rn recurring-notification opt-in. The notification token is a
// credential and is never carried. Topic is the registered topic, Title the
// request's text: Meta sends both, and they differ. Status is normalised to
// OptinStop or OptinResume when Meta says so.
type Optin struct {
	Type      string  `avro:"type"`
	Topic     *string `avro:"topic"`
	Frequency *string `avro:"frequency"`
	Status    *string `avro:"status"`
	Title     *string `avro:"title"`
}

// Opt-in statuses: the person stopped marketing messages, or resumed them.
const (
	OptinStop   = "STOP"
	OptinResume = "RESUME"
)

// Key is the Kafka record key of the event: platform (lower case), account and
// participant, so that one participant's events stay in one partition, in order.
func (e *Event) Key() string {
	return platformKey(e.Platform) + ":" + e.AccountID + ":" + e.ParticipantID
}

func platformKey(p Platform) string {
	switch p {
	case Instagram:
		return "instagram"
	case Messenger:
		return "messenger"
	}
	return string(p)
}
