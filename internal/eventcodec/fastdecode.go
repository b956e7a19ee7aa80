package eventcodec

import (
	"encoding/binary"

	"github.com/reftrail/reftrail/internal/event"
)

// fastFingerprint is the fingerprint of the schema readCurrent is written
// for: the current schema/avro/referral_event.avsc. When the schema changes,
// the fingerprint no longer matches and Decode reads everything with hamba
// until readCurrent is updated (TestFastPathReadsCurrentSchema says so).
const fastFingerprint = 0x66accfc334da0843

// Enum symbols in the order of the current schema.
var (
	platformSymbols = [...]event.Platform{event.Instagram, event.Messenger}
	kindSymbols     = [...]event.Kind{event.KindReferral, event.KindMessage, event.KindPostback, event.KindOptin, event.KindEcho}
	threadSymbols   = [...]event.Thread{event.ThreadNew, event.ThreadExisting, event.ThreadUnknown}
)

// readCurrent reads body, written with the current schema, into e. hamba's
// reflection-driven reader spends several microseconds an event; this reads
// the fields in schema order. ok is false at the first thing it does not
// accept (an index out of range, a length past the end, a varint too long,
// trailing bytes); Decode then reads the body again with hamba, whose result
// or error stands. The strings of e share one copy of body.
func readCurrent(body []byte, e *event.Event) (ok bool) {
	r := fastReader{b: body, s: string(body)}
	*e = event.Event{
		EventID:       r.str(),
		Platform:      enum(&r, platformSymbols[:]),
		Kind:          enum(&r, kindSymbols[:]),
		AccountID:     r.str(),
		ParticipantID: r.str(),
		EventTime:     r.long(),
		ReceivedTime:  r.long(),
		Thread:        enum(&r, threadSymbols[:]),
	}
	if r.present() {
		ref := &event.Referral{Ref: r.str(), Source: r.str(), Type: r.str(), AdID: r.optStr(), RefererURI: r.optStr()}
		if r.present() {
			ref.AdsContext = &event.AdsContext{AdTitle: r.optStr(), PhotoURL: r.optStr(), VideoURL: r.optStr(),
				PostID: r.optStr(), ProductID: r.optStr(), FlowID: r.optStr()}
		}
		e.Referral = ref
	}
	e.MessageID, e.PostbackTitle, e.PostbackPayload = r.optStr(), r.optStr(), r.optStr()
	if r.present() {
		e.Optin = &event.Optin{Type: r.str(), Topic: r.optStr(), Frequency: r.optStr(), Status: r.optStr(), Title: r.optStr()}
	}
	e.RawPartition = r.int()
	e.RawOffset = r.long()
	return !r.bad && r.i == len(body)
}

// fastReader reads Avro's binary encoding from b; s is b as one string.
// After the first error, bad is set and every read returns a zero value.
type fastReader struct {
	b   []byte
	s   string
	i   int
	bad bool
}

// varint reads a zigzag varint of at most maxBytes bytes, as hamba does (5
// for an int, 10 for a long).
func (r *fastReader) varint(maxBytes int) int64 {
	if r.bad {
		return 0
	}
	u, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 || n > maxBytes {
		r.bad = true
		return 0
	}
	r.i += n
	return int64(u>>1) ^ -int64(u&1)
}

func (r *fastReader) long() int64 { return r.varint(binary.MaxVarintLen64) }

func (r *fastReader) int() int32 {
	v := r.varint(5)
	if v != int64(int32(v)) {
		r.bad = true
		return 0
	}
	return int32(v)
}

func (r *fastReader) str() string {
	n := r.long()
	if r.bad || n < 0 || n > int64(len(r.b)-r.i) {
		r.bad = true
		return ""
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s
}

// present reads the branch of a ["null", T] union: true for T.
func (r *fastReader) present() bool {
	switch r.long() {
	case 0:
		return false
	case 1:
		return !r.bad
	}
	r.bad = true
	return false
}

func (r *fastReader) optStr() *string {
	if !r.present() {
		return nil
	}
	s := r.str()
	return &s
}

func enum[T ~string](r *fastReader, symbols []T) T {
	i := r.int()
	if r.bad || i < 0 || int(i) >= len(symbols) {
		r.bad = true
		return ""
	}
	return symbols[i]
}
