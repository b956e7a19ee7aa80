package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
)

func TestDLQDeadLetter(t *testing.T) {
	at := time.UnixMilli(1763700200000)
	tests := []struct {
		name string
		rec  *kgo.Record
		want chstore.DeadLetter
	}{
		{
			name: "from enrich",
			rec: &kgo.Record{Topic: dlqTopic, Partition: 1, Offset: 7, Timestamp: at, Value: []byte(`{"object":`), Headers: []kgo.RecordHeader{
				{Key: "reftrail-received-at", Value: []byte("1763700100000")},
				{Key: "reftrail-request-id", Value: []byte("req-1")},
				{Key: "reftrail-dlq-reason", Value: []byte("invalid_json")},
				{Key: "reftrail-dlq-detail", Value: []byte("unexpected end of JSON input")},
				{Key: "reftrail-dlq-stage", Value: []byte("decode")},
				{Key: "reftrail-raw-partition", Value: []byte("2")},
				{Key: "reftrail-raw-offset", Value: []byte("41")},
			}},
			want: chstore.DeadLetter{
				RawTopic: rawTopic, RawPartition: 2, RawOffset: 41,
				Reason: "invalid_json", Stage: "decode", Detail: "unexpected end of JSON input",
				Payload: []byte(`[redacted] 10 bytes, not JSON`), ReceivedTime: 1763700100000,
				Headers: []chstore.Header{
					{Key: "reftrail-received-at", Value: []byte("1763700100000")},
					{Key: "reftrail-request-id", Value: []byte("req-1")},
					{Key: "reftrail-dlq-reason", Value: []byte("invalid_json")},
					{Key: "reftrail-dlq-detail", Value: []byte("unexpected end of JSON input")},
					{Key: "reftrail-dlq-stage", Value: []byte("decode")},
					{Key: "reftrail-raw-partition", Value: []byte("2")},
					{Key: "reftrail-raw-offset", Value: []byte("41")},
				},
			},
		},
		{
			name: "without raw coordinates or reason",
			rec:  &kgo.Record{Topic: dlqTopic, Partition: 0, Offset: 3, Timestamp: at, Value: []byte("x"), Headers: []kgo.RecordHeader{{Key: "reftrail-raw-offset", Value: []byte("not a number")}}},
			want: chstore.DeadLetter{
				RawTopic: dlqTopic, RawPartition: 0, RawOffset: 3, Reason: "unknown",
				Payload: []byte("[redacted] 1 bytes, not JSON"), ReceivedTime: at.UnixMilli(),
				Headers: []chstore.Header{{Key: "reftrail-raw-offset", Value: []byte("not a number")}},
			},
		},
		{
			name: "message text, attachments and opt-in tokens redacted",
			rec: &kgo.Record{Topic: dlqTopic, Partition: 0, Offset: 4, Timestamp: at, Value: []byte(`{"object":"page","entry":[{"id":"106","messaging":[` +
				`{"sender":{"id":"24"},"recipient":{"id":"106"},"timestamp":1,"message":{"mid":"m1","text":"my address is 12 rue X","attachments":[{"type":"file","payload":{"url":"https://x/cv.pdf"}}]}},` +
				`{"sender":{"id":"24"},"recipient":{"id":"106"},"timestamp":2,"optin":{"type":"notification_messages","notification_messages_token":"tok-1"}}]}]}`)},
			want: chstore.DeadLetter{
				RawTopic: dlqTopic, RawPartition: 0, RawOffset: 4, Reason: "unknown", ReceivedTime: at.UnixMilli(), Headers: []chstore.Header{},
				Payload: []byte(`{"entry":[{"id":"106","messaging":[` +
					`{"message":{"attachments":[{"payload":{"url":"[redacted]"},"type":"file"}],"mid":"m1","text":"[redacted]"},"recipient":{"id":"106"},"sender":{"id":"24"},"timestamp":1},` +
					`{"optin":{"notification_messages_token":"[redacted]","type":"notification_messages"},"recipient":{"id":"106"},"sender":{"id":"24"},"timestamp":2}]}],"object":"page"}`),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, dlqDeadLetter(tt.rec, rawTopic)); diff != "" {
				t.Errorf("dlqDeadLetter (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventDeadLetter(t *testing.T) {
	at := time.UnixMilli(1763700200000)
	rec := &kgo.Record{Topic: eventsTopic, Partition: 2, Offset: 9, Timestamp: at, Value: []byte{0xff}}
	got := eventDeadLetter(rec, reasonUndecodable, "malformed event: magic byte 0xff")
	want := chstore.DeadLetter{
		RawTopic: eventsTopic, RawPartition: 2, RawOffset: 9, Reason: "undecodable_event", Stage: "sink",
		Detail: "malformed event: magic byte 0xff", Payload: []byte{0xff}, Headers: []chstore.Header{}, ReceivedTime: at.UnixMilli(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("eventDeadLetter (-want +got):\n%s", diff)
	}
}
