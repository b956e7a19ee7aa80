// Package meta decodes Meta's Instagram and Messenger webhook payloads into
// reftrail events. Decode is pure: no I/O, no clock, no global state, so the
// same bytes always give the same Result (event ids included), which is what
// makes redeliveries and replays harmless downstream.
//
// Rules where Meta's documentation is silent:
//   - AccountID is entry.id, the account the subscription belongs to (and
//     the raw record's key); the item's recipient.id (sender.id for echoes)
//     is used only when the entry has no id, and a disagreement is counted in
//     Result.AccountMismatches. See decoder.item.
//   - Timestamps below 1e11 are seconds, below 1e14 milliseconds; anything
//     else is invalid_timestamp, and so is a time before 2010 or more than a
//     day after the payload was received (see plausibleTime). entry.time is never a fallback: it is the
//     batch's time, and would give a redelivery batched differently another
//     event id. See parseTimestamp.
//   - event_id is the mid, or "h:" and 128 bits of SHA-256 over the
//     length-prefixed identifying fields. See eventID.
//   - An opt-in with a ref has thread EXISTING. See threadOf.
//   - changes elements are decoded as messaging items when their field is a
//     messaging field (messagingFields); others are counted as SkipChange.
package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/reftrail/reftrail/internal/event"
)

// Source is where a raw payload came from: lineage and receive time. Decode
// copies it into every event unchanged.
type Source struct {
	ReceivedTime int64 // Unix ms at which ingest accepted the POST
	Partition    int32 // raw topic partition
	Offset       int64 // raw topic offset
}

// Result is what one raw webhook body yields.
//
// A payload whose items are all bad still returns a nil error with Bad filled
// and no Events: the envelope was fine, so the caller dead-letters the raw
// record once (with Bad[0] as the reason) rather than treating it as
// undecodable. A Result with both Events and Bad means some items were lost:
// the caller produces the events and dead-letters the raw record as well.
type Result struct {
	// Events holds one event per modelled interaction, in payload order:
	// entries in order and, within an entry, messaging, then standby, then
	// changes items.
	Events []event.Event `json:"events,omitempty"`
	// Skipped counts items reftrail does not model, by Skip* key. Nil when
	// there are none. The keys are a fixed set, so they are safe as a
	// metric label.
	Skipped map[string]int `json:"skipped,omitempty"`
	// InvalidRefs counts events whose referral ref breaks Meta's rules
	// (longer than 2,083 characters, or characters outside [A-Za-z0-9_=-]).
	// Such refs are kept as sent: the rule is Meta's, not reftrail's.
	InvalidRefs int `json:"invalid_refs"`
	// AccountMismatches counts events whose business side (recipient.id, or
	// sender.id for echoes) differs from the entry id. AccountID is the entry
	// id in those events; a rising count means Meta changed its id spaces.
	AccountMismatches int `json:"account_mismatches"`
	// Bad holds the items that could not become events, in payload order.
	Bad []ItemError `json:"bad,omitempty"`
}

// ItemError is an item (or an entry's list) that could not become an event
// while the rest of the payload could.
type ItemError struct {
	// Path locates the item in the payload, e.g. "entry[0].messaging[2]".
	Path   string `json:"path"`
	Reason Reason `json:"reason"`
	// Detail says what was wrong; it never quotes ids, text or refs, so it is
	// safe in a DLQ header and in logs.
	Detail string `json:"detail"`
}

// Reason is a short, stable dead-letter reason, written to the
// reftrail-dlq-reason header and used as a metric label.
type Reason string

// Reasons a payload (DecodeError) or an item (ItemError) is rejected.
const (
	// ReasonInvalidJSON: the body is not JSON.
	ReasonInvalidJSON Reason = "invalid_json"
	// ReasonNotMetaEnvelope: JSON, but not an object with a string "object"
	// and an "entry" array.
	ReasonNotMetaEnvelope Reason = "not_meta_envelope"
	// ReasonUnknownObject: an envelope for a product other than "instagram"
	// or "page" (e.g. WhatsApp).
	ReasonUnknownObject Reason = "unknown_object"
	// ReasonInvalidEntry: an entry is not an object, or one of its messaging,
	// standby or changes lists is not an array of values.
	ReasonInvalidEntry Reason = "invalid_entry"
	// ReasonInvalidItem: an item is not an object, or a field has the wrong
	// JSON type (e.g. a number where Meta sends a string).
	ReasonInvalidItem Reason = "invalid_item"
	// ReasonMissingSender: no sender.id (nor sender.user_ref).
	ReasonMissingSender Reason = "missing_sender"
	// ReasonMissingRecipient: no recipient.id (nor recipient.user_ref).
	ReasonMissingRecipient Reason = "missing_recipient"
	// ReasonMissingTimestamp: no timestamp, or null.
	ReasonMissingTimestamp Reason = "missing_timestamp"
	// ReasonTooManyItems: the payload holds more than 1,000 entries or
	// items, Meta's batch limit; those beyond it were not decoded.
	ReasonTooManyItems Reason = "too_many_items"
	// ReasonInvalidTimestamp: a timestamp that is not a positive number (or a
	// string of one) in a plausible range: from 2010 to a day after the
	// payload was received. See parseTimestamp and plausibleTime.
	ReasonInvalidTimestamp Reason = "invalid_timestamp"
)

// DecodeError reports a payload that is unusable as a whole; the caller
// dead-letters it with Reason.
type DecodeError struct {
	Reason Reason `json:"reason"`
	Detail string `json:"detail"`
}

// Error returns the reason and detail, for logs; DLQ headers take the fields.
func (e *DecodeError) Error() string {
	return "decoding meta payload: " + string(e.Reason) + ": " + e.Detail
}

// Decode turns one raw webhook body into events.
//
// The error is a *DecodeError when the whole payload is unusable (not JSON, not
// a Meta envelope, an unknown object); otherwise it is nil and problems with
// single items are in Result.Bad while the good items still become events.
// Items reftrail does not model (reads, deliveries, reactions, ...) are counted
// in Result.Skipped, never errors. Decode never panics and never copies message
// text, attachments, quick replies or opt-in tokens: the item structs do not
// declare those fields, so encoding/json skips them.
//
// Trade-off: Decode first unmarshals the whole body in one typed pass, which is
// the fast path for well-formed payloads. Only when that pass hits a JSON type
// mismatch does it decode again level by level (decodeLayered) to pin the
// problem on one entry or item; both paths share every rule after that, and
// FuzzDecode checks that they agree.
func Decode(body []byte, src Source) (Result, error) {
	if !withinLimits(body) {
		return decodeLayered(body, src)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return decodeLayered(body, src)
	}
	platform, err := platformOf(env.Object, env.Entry != nil)
	if err != nil {
		return Result{}, err
	}
	d := decoder{platform: platform, src: src}
	if n := countItems(env.Entry); n > 0 {
		d.res.Events = make([]event.Event, 0, n)
	}
	for i := range env.Entry {
		d.entry(i, &env.Entry[i])
	}
	return d.result(), nil
}

// decodeLayered decodes body one level at a time (envelope, entries, lists,
// items), so that a type mismatch costs only the entry or item it is in, and
// at most maxEntries entries and maxItems items (see withinLimits). It is
// slower than the one-pass decode in Decode, which is why it is the fallback.
func decodeLayered(body []byte, src Source) (Result, error) {
	var env struct {
		Object *string         `json:"object"`
		Entry  json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return Result{}, &DecodeError{Reason: ReasonInvalidJSON, Detail: fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)}
		}
		return Result{}, &DecodeError{Reason: ReasonNotMetaEnvelope, Detail: typeDetail(err)}
	}
	limits := newBudget()
	var entries []json.RawMessage
	if err := json.Unmarshal(limits.takeEntries(env.Entry), &entries); err != nil && env.Entry != nil {
		return Result{}, &DecodeError{Reason: ReasonNotMetaEnvelope, Detail: "entry is not an array"}
	}
	platform, err := platformOf(env.Object, entries != nil)
	if err != nil {
		return Result{}, err
	}
	d := decoder{platform: platform, src: src}
	for i, raw := range entries {
		var e struct {
			ID        flexID          `json:"id"`
			Messaging json.RawMessage `json:"messaging"`
			Standby   json.RawMessage `json:"standby"`
			Changes   json.RawMessage `json:"changes"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			d.bad(entryPath(i, "", -1), ReasonInvalidEntry, typeDetail(err))
			continue
		}
		ent := entry{ID: e.ID}
		ent.Messaging, ent.messagingErr = layeredList[item](limits.takeItems(e.Messaging, i, "messaging"))
		ent.Standby, ent.standbyErr = layeredList[item](limits.takeItems(e.Standby, i, "standby"))
		ent.Changes, ent.changesErr = layeredList[change](limits.takeItems(e.Changes, i, "changes"))
		d.entry(i, &ent)
	}
	if bad, ok := limits.badExcess(); ok {
		// First, so that it is the dead letter's reason.
		d.res.Bad = append([]ItemError{bad}, d.res.Bad...)
	}
	return d.result(), nil
}

// layeredList decodes one messaging, standby or changes list element by
// element. A failed element stays in place, holding its error, so that paths and
// order stay right; the error is for a list that is not an array.
func layeredList[T any, PT interface {
	*T
	setErr(error)
}](raw json.RawMessage) ([]T, error) {
	if raw == nil {
		return nil, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, err
	}
	list := make([]T, len(raws))
	for j, r := range raws {
		if err := json.Unmarshal(r, &list[j]); err != nil {
			var zero T
			list[j] = zero
			PT(&list[j]).setErr(err)
		}
	}
	return list, nil
}

// platformOf checks the envelope and maps "object" to the platform.
func platformOf(object *string, hasEntries bool) (event.Platform, error) {
	if object == nil {
		return "", &DecodeError{Reason: ReasonNotMetaEnvelope, Detail: "object is missing"}
	}
	if !hasEntries {
		return "", &DecodeError{Reason: ReasonNotMetaEnvelope, Detail: "entry is missing"}
	}
	switch *object {
	case "instagram":
		return event.Instagram, nil
	case "page":
		return event.Messenger, nil
	}
	// Quoted with %q and cut short: the value is Meta's product name, but a
	// forged body could put anything there.
	o := *object
	if len(o) > 40 {
		o = o[:40]
	}
	return "", &DecodeError{Reason: ReasonUnknownObject, Detail: fmt.Sprintf("object %q is neither instagram nor page", o)}
}

func countItems(entries []entry) int {
	n := 0
	for i := range entries {
		n += len(entries[i].Messaging) + len(entries[i].Standby) + len(entries[i].Changes)
	}
	return n
}

// typeDetail renders a decoding error without quoting the payload: for a type
// mismatch it names the field and the JSON type found.
func typeDetail(err error) string {
	var ute *json.UnmarshalTypeError
	if errors.As(err, &ute) {
		if ute.Field == "" {
			return "got JSON " + ute.Value + ", want " + jsonKind(ute.Type.Kind().String())
		}
		return ute.Field + ": got JSON " + ute.Value + ", want " + jsonKind(ute.Type.Kind().String())
	}
	return err.Error()
}

// jsonKind names a Go kind the way a JSON reader thinks of it.
func jsonKind(k string) string {
	switch k {
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	}
	return "number"
}

// entryPath builds "entry[i]", "entry[i].list" or "entry[i].list[j]" (j < 0
// leaves it out). It runs only for errors, so it may allocate.
func entryPath(i int, list string, j int) string {
	p := "entry[" + strconv.Itoa(i) + "]"
	if list == "" {
		return p
	}
	p += "." + list
	if j < 0 {
		return p
	}
	return p + "[" + strconv.Itoa(j) + "]"
}
