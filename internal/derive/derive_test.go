package derive

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

const (
	rawTopic    = "meta.webhooks.raw"
	eventsTopic = "reftrail.events.v1"
	dlqTopic    = "meta.webhooks.dlq"
)

func newTestProcessor(t testing.TB) *Processor {
	t.Helper()
	codec, err := eventcodec.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &Processor{Codec: codec, EventsTopic: eventsTopic, DLQTopic: dlqTopic, Fits: func(*kgo.Record) bool { return true }}
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
		{name: "good item produced, bad item dead-lettered", wantEvents: 1, wantDLQ: "missing_sender", wantStage: StageDecode, wantValue: true, wantRecords: 2},
		{name: "an event over the events topic's limit", tooLarge: []string{eventsTopic}, wantDLQ: ReasonRecordTooLarge, wantStage: StageProduce, wantValue: true, wantRecords: 1},
		{name: "the dead letter over the DLQ topic's limit too", tooLarge: []string{eventsTopic, dlqTopic}, wantDLQ: ReasonRecordTooLarge, wantStage: StageProduce, wantValue: false, wantRecords: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Fits = func(r *kgo.Record) bool { return !slices.Contains(tt.tooLarge, r.Topic) }
			o := p.Handle(raw)
			if len(o.Events) != tt.wantEvents || len(o.Records) != tt.wantRecords || o.DLQ != tt.wantDLQ {
				t.Fatalf("got %d events, %d records, dlq %q; want %d, %d, %q", len(o.Events), len(o.Records), o.DLQ, tt.wantEvents, tt.wantRecords, tt.wantDLQ)
			}
			if o.ReceivedTime != 1763700001234 {
				t.Errorf("receivedTime = %d, want the header's 1763700001234", o.ReceivedTime)
			}
			for _, e := range o.Events {
				if e.ReceivedTime != 1763700001234 || e.RawPartition != 2 || e.RawOffset != 41 {
					t.Errorf("event lineage = %d %d/%d, want 1763700001234 2/41", e.ReceivedTime, e.RawPartition, e.RawOffset)
				}
			}
			dl := o.Records[len(o.Records)-1]
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
	o := p.Process(&kgo.Record{Value: []byte(referralBody)})
	if got, want := string(o.Records[0].Key), "messenger:106000000000001:2400000000000001"; got != want {
		t.Errorf("event key = %q, want %q", got, want)
	}
	if o.Records[0].Topic != eventsTopic {
		t.Errorf("event topic = %q, want %q", o.Records[0].Topic, eventsTopic)
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
			got := ReceivedTime(&kgo.Record{Headers: tt.headers, Timestamp: time.UnixMilli(1763700009999)})
			if got != tt.want {
				t.Errorf("receivedTime = %s, want %d", strconv.FormatInt(got, 10), tt.want)
			}
		})
	}
}

// TestProcessMarksReplayedDeadLetters checks that a replayed record that still
// fails is dead-lettered with a stage replay dlq recognises, and that an
// ordinary one keeps its plain stage.
func TestProcessMarksReplayedDeadLetters(t *testing.T) {
	p := newTestProcessor(t)
	tests := []struct {
		name    string
		headers []kgo.RecordHeader
		want    string
	}{
		{name: "first failure", want: StageDecode},
		{name: "replayed", headers: []kgo.RecordHeader{{Key: kafka.HeaderReplayedAt, Value: []byte("1763700000000")}}, want: StageDecode + ReplayedSuffix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := p.Process(&kgo.Record{Value: []byte("{"), Headers: tt.headers})
			if len(o.Records) != 1 {
				t.Fatalf("got %d records, want one dead letter", len(o.Records))
			}
			var stage string
			for _, h := range o.Records[0].Headers {
				if h.Key == kafka.HeaderDLQStage {
					stage = string(h.Value)
				}
			}
			if stage != tt.want {
				t.Errorf("stage = %q, want %q", stage, tt.want)
			}
		})
	}
}
