// Package derive turns raw webhook records into event and dead-letter records:
// what enrich does to every raw record, and what reftrailctl's replay does
// again after a decoder fix. Both share it so a replay derives exactly what
// enrich would, with the same event ids.
package derive

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

// DLQ stages: where a record was given up on (the reftrail-dlq-stage header).
const (
	StageDecode  = "decode"  // the payload or one of its items is not a usable Meta webhook
	StageEncode  = "encode"  // an event could not be encoded with the schema
	StageProduce = "produce" // what the record became is too large for Kafka

	// ReplayedSuffix is appended to the stage of a dead letter whose raw
	// record was a replayed dead letter (it carries kafka.HeaderReplayedAt):
	// "decode_replayed" says the fix did not help, and reftrailctl replay dlq
	// does not send such a dead letter back again.
	ReplayedSuffix = "_replayed"
)

// DLQ reasons added to the decoder's.
const (
	ReasonEncodeFailed   = "encode_failed"    // an event the schema refuses
	ReasonRecordTooLarge = "record_too_large" // an output record over its topic's max.message.bytes
)

// maxDetail bounds the detail header: it lists bad items, and a payload may
// carry up to 1,000 of them.
const maxDetail = 1024

// Outcome is what one raw record became.
type Outcome struct {
	Records []*kgo.Record // events, then at most one dead letter, to produce
	Events  []event.Event // the events encoded into Records, for metrics
	Result  meta.Result   // skipped items and invalid refs, for metrics
	DLQ     string        // the dead letter's reason, "" when none

	ReceivedTime int64 // Unix ms, for the latency metric
}

// Processor turns raw records into event and dead-letter records. It has no
// state of its own beyond the codec and the topics' limits, so it is safe for
// concurrent use.
type Processor struct {
	Codec       *eventcodec.Codec
	EventsTopic string
	DLQTopic    string
	// Fits reports whether a record, alone in a batch, is within its
	// topic's max.message.bytes.
	Fits func(*kgo.Record) bool
}

// Handle processes raw and makes sure that Kafka can take every record it
// becomes: when one of them alone is over its topic's limit, raw is
// dead-lettered instead, and when the dead letter itself is over the DLQ
// topic's limit, it goes without its value, keeping the headers and the
// lineage to the raw record, still in the raw topic. Records that fit are
// never escalated: a batch Kafka refuses as too large is retried.
func (p *Processor) Handle(raw *kgo.Record) Outcome {
	o := p.Process(raw)
	if !slices.ContainsFunc(o.Records, func(r *kgo.Record) bool { return !p.Fits(r) }) {
		return o
	}
	dl := p.deadLetter(raw, StageProduce, ReasonRecordTooLarge, "what this payload becomes is over its topic's max.message.bytes")
	if !p.Fits(dl) {
		dl = p.deadLetter(raw, StageProduce, ReasonRecordTooLarge, "this payload is over the DLQ topic's max.message.bytes; value dropped, the raw record keeps it")
		dl.Value = nil
	}
	return Outcome{Records: []*kgo.Record{dl}, DLQ: ReasonRecordTooLarge, ReceivedTime: o.ReceivedTime}
}

// Process decodes raw and encodes its events. A payload that cannot be decoded
// at all, or with some bad items, also yields one dead letter carrying the raw
// bytes: the good items still become events, and replaying the dead letter
// later cannot duplicate them since event ids are deterministic.
func (p *Processor) Process(raw *kgo.Record) Outcome {
	src := meta.Source{ReceivedTime: ReceivedTime(raw), Partition: raw.Partition, Offset: raw.Offset}
	result, err := meta.Decode(raw.Value, src)
	if err != nil {
		reason, detail := string(meta.ReasonInvalidJSON), err.Error()
		if de, ok := errors.AsType[*meta.DecodeError](err); ok {
			reason, detail = string(de.Reason), de.Detail
		}
		dl := p.deadLetter(raw, StageDecode, reason, detail)
		return Outcome{Records: []*kgo.Record{dl}, DLQ: reason, ReceivedTime: src.ReceivedTime}
	}
	out := Outcome{
		Result:       result,
		Records:      make([]*kgo.Record, 0, len(result.Events)+1),
		Events:       make([]event.Event, 0, len(result.Events)),
		ReceivedTime: src.ReceivedTime,
	}
	var encodeErrs []string
	for i := range result.Events {
		e := &result.Events[i]
		value, err := p.Codec.Append(nil, e)
		if err != nil {
			encodeErrs = append(encodeErrs, err.Error())
			continue
		}
		out.Events = append(out.Events, *e)
		out.Records = append(out.Records, &kgo.Record{Topic: p.EventsTopic, Key: []byte(e.Key()), Value: value})
	}
	switch {
	case len(result.Bad) > 0:
		details := make([]string, len(result.Bad))
		for i, b := range result.Bad {
			details[i] = b.Path + ": " + string(b.Reason) + ": " + b.Detail
		}
		out.DLQ = string(result.Bad[0].Reason)
		out.Records = append(out.Records, p.deadLetter(raw, StageDecode, out.DLQ, strings.Join(details, "; ")))
	case len(encodeErrs) > 0:
		out.DLQ = ReasonEncodeFailed
		out.Records = append(out.Records, p.deadLetter(raw, StageEncode, out.DLQ, strings.Join(encodeErrs, "; ")))
	}
	return out
}

// deadLetter copies raw (key, value, headers) to the DLQ topic with the
// reason, stage and raw lineage added. A replayed record's stage is marked
// with ReplayedSuffix.
func (p *Processor) deadLetter(raw *kgo.Record, stage, reason, detail string) *kgo.Record {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	if kafka.Replayed(raw.Headers) {
		stage += ReplayedSuffix
	}
	headers := make([]kgo.RecordHeader, 0, len(raw.Headers)+5)
	headers = append(headers, raw.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: kafka.HeaderDLQReason, Value: []byte(reason)},
		kgo.RecordHeader{Key: kafka.HeaderDLQDetail, Value: []byte(detail)},
		kgo.RecordHeader{Key: kafka.HeaderDLQStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: kafka.HeaderRawPartition, Value: []byte(strconv.FormatInt(int64(raw.Partition), 10))},
		kgo.RecordHeader{Key: kafka.HeaderRawOffset, Value: []byte(strconv.FormatInt(raw.Offset, 10))},
	)
	return &kgo.Record{Topic: p.DLQTopic, Key: raw.Key, Value: raw.Value, Headers: headers}
}

// ReceivedTime is when ingest accepted the POST: its header, or the record's
// Kafka timestamp for raw records written by something else.
func ReceivedTime(raw *kgo.Record) int64 {
	if ms, ok := kafka.ReceivedAt(raw.Headers); ok {
		return ms
	}
	return raw.Timestamp.UnixMilli()
}
