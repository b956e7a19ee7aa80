package main

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

// DLQ stages: where in enrich a record was given up on.
const (
	stageDecode  = "decode"  // the payload or one of its items is not a usable Meta webhook
	stageEncode  = "encode"  // an event could not be encoded with the schema
	stageProduce = "produce" // what the record became is too large for Kafka
)

// DLQ reasons enrich adds to the decoder's.
const (
	reasonEncodeFailed   = "encode_failed"    // an event the schema refuses
	reasonRecordTooLarge = "record_too_large" // an output record over its topic's max.message.bytes
)

// maxDetail bounds the detail header: it lists bad items, and a payload may
// carry up to 1,000 of them.
const maxDetail = 1024

// outcome is what one raw record became.
type outcome struct {
	records []*kgo.Record // events, then at most one dead letter, to produce
	events  []event.Event // the events encoded into records, for metrics
	result  meta.Result   // skipped items and invalid refs, for metrics
	dlq     string        // the dead letter's reason, "" when none

	receivedTime int64 // Unix ms, for the latency metric
}

// processor turns raw records into event and dead-letter records. It has no
// state of its own beyond the codec and the topics' limits, so it is safe for
// concurrent use.
type processor struct {
	codec       *eventcodec.Codec
	eventsTopic string
	dlqTopic    string
	// fits reports whether a record, alone in a batch, is within its
	// topic's max.message.bytes.
	fits func(*kgo.Record) bool
}

// handle processes raw and makes sure that Kafka can take every record it
// becomes: when one of them alone is over its topic's limit, raw is
// dead-lettered instead, and when the dead letter itself is over the DLQ
// topic's limit, it goes without its value, keeping the headers and the
// lineage to the raw record, still in the raw topic. Records that fit are
// never escalated: a batch Kafka refuses as too large is retried.
func (p *processor) handle(raw *kgo.Record) outcome {
	o := p.process(raw)
	if !slices.ContainsFunc(o.records, func(r *kgo.Record) bool { return !p.fits(r) }) {
		return o
	}
	dl := p.deadLetter(raw, stageProduce, reasonRecordTooLarge, "what this payload becomes is over its topic's max.message.bytes")
	if !p.fits(dl) {
		dl = p.deadLetter(raw, stageProduce, reasonRecordTooLarge, "this payload is over the DLQ topic's max.message.bytes; value dropped, the raw record keeps it")
		dl.Value = nil
	}
	return outcome{records: []*kgo.Record{dl}, dlq: reasonRecordTooLarge, receivedTime: o.receivedTime}
}

// process decodes raw and encodes its events. A payload that cannot be decoded
// at all, or with some bad items, also yields one dead letter carrying the raw
// bytes: the good items still become events, and replaying the dead letter
// later cannot duplicate them since event ids are deterministic.
func (p *processor) process(raw *kgo.Record) outcome {
	src := meta.Source{ReceivedTime: receivedTime(raw), Partition: raw.Partition, Offset: raw.Offset}
	result, err := meta.Decode(raw.Value, src)
	if err != nil {
		reason, detail := string(meta.ReasonInvalidJSON), err.Error()
		if de, ok := errors.AsType[*meta.DecodeError](err); ok {
			reason, detail = string(de.Reason), de.Detail
		}
		dl := p.deadLetter(raw, stageDecode, reason, detail)
		return outcome{records: []*kgo.Record{dl}, dlq: reason, receivedTime: src.ReceivedTime}
	}
	out := outcome{
		result:       result,
		records:      make([]*kgo.Record, 0, len(result.Events)+1),
		events:       make([]event.Event, 0, len(result.Events)),
		receivedTime: src.ReceivedTime,
	}
	var encodeErrs []string
	for i := range result.Events {
		e := &result.Events[i]
		value, err := p.codec.Append(nil, e)
		if err != nil {
			encodeErrs = append(encodeErrs, err.Error())
			continue
		}
		out.events = append(out.events, *e)
		out.records = append(out.records, &kgo.Record{Topic: p.eventsTopic, Key: []byte(e.Key()), Value: value})
	}
	switch {
	case len(result.Bad) > 0:
		details := make([]string, len(result.Bad))
		for i, b := range result.Bad {
			details[i] = b.Path + ": " + string(b.Reason) + ": " + b.Detail
		}
		out.dlq = string(result.Bad[0].Reason)
		out.records = append(out.records, p.deadLetter(raw, stageDecode, out.dlq, strings.Join(details, "; ")))
	case len(encodeErrs) > 0:
		out.dlq = reasonEncodeFailed
		out.records = append(out.records, p.deadLetter(raw, stageEncode, out.dlq, strings.Join(encodeErrs, "; ")))
	}
	return out
}

// deadLetter copies raw (key, value, headers) to the DLQ topic with the
// reason, stage and raw lineage added.
func (p *processor) deadLetter(raw *kgo.Record, stage, reason, detail string) *kgo.Record {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
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
	return &kgo.Record{Topic: p.dlqTopic, Key: raw.Key, Value: raw.Value, Headers: headers}
}

// receivedTime is when ingest accepted the POST: its header, or the record's
// Kafka timestamp for raw records written by something else.
func receivedTime(raw *kgo.Record) int64 {
	if ms, ok := kafka.ReceivedAt(raw.Headers); ok {
		return ms
	}
	return raw.Timestamp.UnixMilli()
}
