package main

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

// Dead letters sink itself writes: an event record it cannot decode, or one
// whose row ClickHouse refuses.
const (
	reasonUndecodable = "undecodable_event"
	reasonRejected    = "rejected_by_clickhouse"
	stageSink         = "sink"
	// reasonUnknown stands in for a DLQ record without a reason header,
	// which enrich never writes but an operator's tool might.
	reasonUnknown = "unknown"
	// maxReasonLen bounds the reason used as a metric label; enrich's
	// reasons are short words, and a longer one is not from enrich.
	maxReasonLen = 64
)

// dlqDeadLetter is the dead_letters row of a DLQ topic record: the raw record
// enrich gave up on, its payload redacted (meta.Redact: message text,
// attachments, tokens and other free text replaced, ids and structure kept),
// since dashboards read dead_letters and the DLQ topic keeps the raw bytes
// for replay, identified by rawTopic and the partition and offset from
// its headers, so that the same raw record dead-lettered twice collapses into
// one row. A record without those headers is keyed by its own position in the
// DLQ topic instead: it is kept, and still collapses when redelivered.
func dlqDeadLetter(rec *kgo.Record, rawTopic string) chstore.DeadLetter {
	d := chstore.DeadLetter{
		RawTopic:     rawTopic,
		Reason:       reasonUnknown,
		Payload:      meta.Redact(rec.Value),
		Headers:      headers(rec),
		ReceivedTime: rec.Timestamp.UnixMilli(),
	}
	var partitionOK, offsetOK bool
	for _, h := range rec.Headers {
		v := string(h.Value)
		switch h.Key {
		case kafka.HeaderDLQReason:
			if v != "" {
				d.Reason = v
			}
		case kafka.HeaderDLQDetail:
			d.Detail = v
		case kafka.HeaderDLQStage:
			d.Stage = v
		case kafka.HeaderRawPartition:
			p, err := strconv.ParseInt(v, 10, 32)
			d.RawPartition, partitionOK = int32(p), err == nil
		case kafka.HeaderRawOffset:
			o, err := strconv.ParseInt(v, 10, 64)
			d.RawOffset, offsetOK = o, err == nil
		}
	}
	if ms, ok := kafka.ReceivedAt(rec.Headers); ok {
		d.ReceivedTime = ms
	}
	if !partitionOK || !offsetOK {
		d.RawTopic, d.RawPartition, d.RawOffset = rec.Topic, rec.Partition, rec.Offset
	}
	return d
}

// eventDeadLetter is the dead_letters row of an event record sink gives up on,
// keyed by the record's own position in the events topic.
func eventDeadLetter(rec *kgo.Record, reason, detail string) chstore.DeadLetter {
	return chstore.DeadLetter{
		RawTopic:     rec.Topic,
		RawPartition: rec.Partition,
		RawOffset:    rec.Offset,
		Reason:       reason,
		Stage:        stageSink,
		Detail:       detail,
		Payload:      rec.Value,
		Headers:      headers(rec),
		ReceivedTime: rec.Timestamp.UnixMilli(),
	}
}

func headers(rec *kgo.Record) []chstore.Header {
	hs := make([]chstore.Header, len(rec.Headers))
	for i, h := range rec.Headers {
		hs[i] = chstore.Header{Key: h.Key, Value: h.Value}
	}
	return hs
}

// reasonLabel is reason as a metric label, with cardinality bounded.
func reasonLabel(reason string) string {
	if len(reason) > maxReasonLen {
		return "other"
	}
	return reason
}
