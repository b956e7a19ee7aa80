package main

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

func newTestProcessor(t testing.TB) *processor {
	t.Helper()
	codec, err := eventcodec.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &processor{codec: codec, eventsTopic: eventsTopic, dlqTopic: dlqTopic, fits: func(*kgo.Record) bool { return true }}
}

const referralBody = `{"object":"page","entry":[{"id":"106000000000001","time":1763700000000,"messaging":[` +
	`{"sender":{"id":"2400000000000001"},"recipient":{"id":"106000000000001"},"timestamp":1763700000000,"referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"}},` +
	`{"recipient":{"id":"106000000000001"},"timestamp":1763700000100,"referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"}}]}]}`

func TestProcess(t *testing.T) {
	p := newTestProcessor(t)
	raw := &kgo.Record{
		Topic: rawTopic, Partition: 2, Offset: 41, Key: []byte("106000000000001"), Value: []byte(referralBody),
		Timestamp: time.UnixMilli(1763700009999),
		Headers:   []kgo.RecordHeader{{Key: "reftrail-received-at", Value: []byte("1763700001234")}, {Key: "reftrail-request-id", Value: []byte("r1")}},
	}
	tests := []struct {
		name string
		// tooLarge lists the topics whose limit every record is over.
		tooLarge    []string
		wantEvents  int
		wantDLQ     string
		wantStage   string
		wantValue   bool
		wantRecords int
	}{
		{name: "good item produced, bad item dead-lettered", wantEvents: 1, wantDLQ: "missing_sender", wantStage: stageDecode, wantValue: true, wantRecords: 2},
		{name: "an event over the events topic's limit", tooLarge: []string{eventsTopic}, wantDLQ: reasonRecordTooLarge, wantStage: stageProduce, wantValue: true, wantRecords: 1},
		{name: "the dead letter over the DLQ topic's limit too", tooLarge: []string{eventsTopic, dlqTopic}, wantDLQ: reasonRecordTooLarge, wantStage: stageProduce, wantValue: false, wantRecords: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.fits = func(r *kgo.Record) bool { return !slices.Contains(tt.tooLarge, r.Topic) }
			o := p.handle(raw)
			if len(o.events) != tt.wantEvents || len(o.records) != tt.wantRecords || o.dlq != tt.wantDLQ {
				t.Fatalf("got %d events, %d records, dlq %q; want %d, %d, %q", len(o.events), len(o.records), o.dlq, tt.wantEvents, tt.wantRecords, tt.wantDLQ)
			}
			if o.receivedTime != 1763700001234 {
				t.Errorf("receivedTime = %d, want the header's 1763700001234", o.receivedTime)
			}
			for _, e := range o.events {
				if e.ReceivedTime != 1763700001234 || e.RawPartition != 2 || e.RawOffset != 41 {
					t.Errorf("event lineage = %d %d/%d, want 1763700001234 2/41", e.ReceivedTime, e.RawPartition, e.RawOffset)
				}
			}
			dl := o.records[len(o.records)-1]
			if dl.Topic != dlqTopic || string(dl.Key) != string(raw.Key) {
				t.Fatalf("last record topic %q key %q, want the DLQ with the raw key", dl.Topic, dl.Key)
			}
			if got := string(dl.Value) == string(raw.Value); got != tt.wantValue {
				t.Errorf("dead letter carries the raw value: %v, want %v", got, tt.wantValue)
			}
			h := map[string]string{}
			for _, hd := range dl.Headers {
				h[hd.Key] = string(hd.Value)
			}
			want := map[string]string{
				"reftrail-received-at":   "1763700001234",
				"reftrail-request-id":    "r1",
				"reftrail-dlq-reason":    tt.wantDLQ,
				"reftrail-dlq-detail":    h["reftrail-dlq-detail"],
				"reftrail-dlq-stage":     tt.wantStage,
				"reftrail-raw-partition": "2",
				"reftrail-raw-offset":    "41",
			}
			if diff := cmp.Diff(want, h); diff != "" || h["reftrail-dlq-detail"] == "" {
				t.Errorf("dead letter headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProcessKeysEventsByParticipant(t *testing.T) {
	p := newTestProcessor(t)
	o := p.process(&kgo.Record{Value: []byte(referralBody)})
	if got, want := string(o.records[0].Key), "messenger:106000000000001:2400000000000001"; got != want {
		t.Errorf("event key = %q, want %q", got, want)
	}
	if o.records[0].Topic != eventsTopic {
		t.Errorf("event topic = %q, want %q", o.records[0].Topic, eventsTopic)
	}
}

func TestReceivedTimeFallsBackToRecordTimestamp(t *testing.T) {
	tests := []struct {
		name    string
		headers []kgo.RecordHeader
		want    int64
	}{
		{name: "header", headers: []kgo.RecordHeader{{Key: kafka.HeaderReceivedAt, Value: []byte("1763700001234")}}, want: 1763700001234},
		{name: "no header", want: 1763700009999},
		{name: "unparsable header", headers: []kgo.RecordHeader{{Key: kafka.HeaderReceivedAt, Value: []byte("soon")}}, want: 1763700009999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := receivedTime(&kgo.Record{Headers: tt.headers, Timestamp: time.UnixMilli(1763700009999)})
			if got != tt.want {
				t.Errorf("receivedTime = %s, want %d", strconv.FormatInt(got, 10), tt.want)
			}
		})
	}
}
