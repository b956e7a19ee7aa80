package replay

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/derive"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

const (
	rawTopic    = "meta.webhooks.raw"
	eventsTopic = "reftrail.events.v1"
	dlqTopic    = "meta.webhooks.dlq"
)

var base = time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)

// produceRaw writes every payload of internal/meta's testdata to the raw
// topic as ingest would, one a second from base, and returns them as stored.
func produceRaw(t *testing.T, brokers []string) []*kgo.Record {
	t.Helper()
	paths, err := filepath.Glob("../meta/testdata/payloads/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no payloads: %v", err)
	}
	sort.Strings(paths)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchMaxBytes(kafka.MaxRecordBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	if err := kafka.EnsureTopics(ctx, cl, kafka.Config{CreateTopics: true, TopicPartitions: 3, TopicReplication: -1}, slog.New(slog.DiscardHandler),
		kafka.Topic{Name: rawTopic, LargeRecords: true}, kafka.Topic{Name: eventsTopic}, kafka.Topic{Name: dlqTopic, LargeRecords: true}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i, p := range paths {
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		at := base.Add(time.Duration(i) * time.Second)
		rec := &kgo.Record{Topic: rawTopic, Value: body, Timestamp: at, Headers: []kgo.RecordHeader{
			{Key: kafka.HeaderReceivedAt, Value: []byte(strconv.FormatInt(at.UnixMilli(), 10))},
		}}
		if key, ok := meta.AccountKey(body); ok {
			rec.Key = []byte(key)
		}
		recs = append(recs, rec)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// readAll reads topic from the start, read_committed, until a poll is quiet.
func readAll(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r); n++ })
		if n == 0 {
			return recs
		}
	}
}

func newProcessor(t *testing.T) *derive.Processor {
	t.Helper()
	codec, err := eventcodec.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return &derive.Processor{Codec: codec, EventsTopic: eventsTopic, DLQTopic: dlqTopic}
}

// TestRawReplaysThePeriodWithTheSameEventIDs stores raw records a second
// apart, derives every one as enrich does (the originals), replays a period
// in the middle, and checks that exactly the period's records were read and
// that the replayed events carry the originals' event ids, once each.
func TestRawReplaysThePeriodWithTheSameEventIDs(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	stored := produceRaw(t, brokers)
	proc := newProcessor(t)

	const first, last = 10, 39 // the period's records, by production order
	period := Period{From: base.Add(first * time.Second), To: base.Add((last + 1) * time.Second)}
	var wantIDs []string
	var wantDead int64
	for _, raw := range stored[first : last+1] {
		o := proc.Process(raw)
		for _, e := range o.Events {
			wantIDs = append(wantIDs, e.EventID)
		}
		if o.DLQ != "" {
			wantDead++
		}
	}
	if len(wantIDs) == 0 || wantDead == 0 {
		t.Fatalf("the period holds %d events and %d dead letters; the test needs both", len(wantIDs), wantDead)
	}

	var progress bytes.Buffer
	cfg := Config{Kafka: kafka.Config{Brokers: brokers}, TransactionalID: "test-replay-raw", BatchRecords: 7, Progress: &progress, Logger: slog.New(slog.DiscardHandler)}
	sum, err := Raw(context.Background(), cfg, rawTopic, period, proc)
	if err != nil {
		t.Fatalf("Raw = %v", err)
	}
	want := RawSummary{RecordsRead: last - first + 1, EventsProduced: int64(len(wantIDs)), DeadLetters: wantDead}
	if sum != want {
		t.Errorf("summary = %+v, want %+v", sum, want)
	}
	if progress.Len() == 0 {
		t.Error("no progress line")
	}

	dec, err := eventcodec.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, r := range readAll(t, brokers, eventsTopic) {
		var e event.Event
		if err := dec.Decode(context.Background(), r.Value, &e); err != nil {
			t.Fatal(err)
		}
		gotIDs = append(gotIDs, e.EventID)
	}
	sort.Strings(gotIDs)
	sort.Strings(wantIDs)
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("replayed event ids (-originals +replayed):\n%s", diff)
	}
	if got := int64(len(readAll(t, brokers, dlqTopic))); got != wantDead {
		t.Errorf("dead letters = %d, want %d", got, wantDead)
	}
}
