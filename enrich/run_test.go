package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

const (
	rawTopic    = "meta.webhooks.raw"
	eventsTopic = "reftrail.events.v1"
	dlqTopic    = "meta.webhooks.dlq"
	partitions  = 3
	// receivedBase is the receive time produceRaw gives raw records
	// (2026-01-01), after every event of the corpus and of the traffic
	// plans: the decoder refuses events more than a day after receipt.
	receivedBase = 1767225600000
)

// TestMain lets the kill test run enrich as a child process of this test
// binary, so it can be killed with SIGKILL mid-transaction.
func TestMain(m *testing.M) {
	if os.Getenv("REFTRAIL_ENRICH_CHILD") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func baseEnv(brokers []string, metricsAddr string) map[string]string {
	return map[string]string{
		"KAFKA_BROKERS":    strings.Join(brokers, ","),
		"METRICS_ADDR":     metricsAddr,
		"TOPIC_PARTITIONS": strconv.Itoa(partitions),
		"LOG_LEVEL":        "warn",
	}
}

// startEnrich runs enrich through run until the test ends and waits for
// /readyz.
func startEnrich(t testing.TB, brokers []string, env map[string]string) string {
	t.Helper()
	addr := testenv.FreeAddr(t)
	vars := baseEnv(brokers, addr)
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	})
	testenv.WaitReadyz(t, "http://"+addr, http.StatusOK, 30*time.Second)
	return "http://" + addr
}

// produceRaw creates enrich's topics, writes bodies to the raw topic as ingest
// would, keyed by account and with its headers, and returns the records as
// Kafka stored them.
func produceRaw(t testing.TB, brokers []string, bodies [][]byte) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(rawTopic), kgo.ProducerBatchMaxBytes(kafka.MaxRecordBytes))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := kafka.Config{CreateTopics: true, TopicPartitions: partitions, TopicReplication: -1}
	if err := kafka.EnsureTopics(context.Background(), cl, topics, slog.New(slog.DiscardHandler),
		kafka.Topic{Name: rawTopic, LargeRecords: true}, kafka.Topic{Name: eventsTopic}, kafka.Topic{Name: dlqTopic, LargeRecords: true}); err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, len(bodies))
	for i, b := range bodies {
		recs[i] = &kgo.Record{Value: b, Headers: []kgo.RecordHeader{
			{Key: "reftrail-received-at", Value: []byte(strconv.Itoa(receivedBase + i))},
			{Key: "reftrail-request-id", Value: []byte(fmt.Sprintf("req-%d", i))},
		}}
		if key, ok := meta.AccountKey(b); ok {
			recs[i].Key = []byte(key)
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing raw records: %v", err)
	}
	return recs
}

// readCommitted reads topic from the start with read_committed isolation until
// it has seen want records and then quiet for settle, failing after timeout.
func readCommitted(t testing.TB, brokers []string, topic string, want int, settle time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	for {
		wait := time.Until(deadline)
		if len(recs) >= want {
			wait = settle
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fetches := cl.PollFetches(ctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r); n++ })
		if n == 0 && ctx.Err() != nil {
			if len(recs) < want {
				t.Fatalf("read %d records from %s, want %d", len(recs), topic, want)
			}
			return recs
		}
	}
}

func loadPayloads(t testing.TB) (bodies [][]byte) {
	t.Helper()
	paths, err := filepath.Glob("../internal/meta/testdata/payloads/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no payload corpus found: %v", err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

func headerMap(r *kgo.Record) map[string]string {
	m := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// TestIntegrationEnrichCorpus sends the decoder's whole payload corpus through
// enrich and checks every event and dead letter against what the decoder
// makes of the same raw records.
func TestIntegrationEnrichCorpus(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	bodies := loadPayloads(t)
	url := startEnrich(t, brokers, nil)
	raws := produceRaw(t, brokers, bodies)

	// What enrich must produce, from the decoder run on the stored records.
	var wantEvents []event.Event
	wantDLQ := map[string]string{} // raw partition/offset → reason
	for i, raw := range raws {
		res, err := meta.Decode(raw.Value, meta.Source{ReceivedTime: int64(receivedBase + i), Partition: raw.Partition, Offset: raw.Offset})
		pos := fmt.Sprintf("%d/%d", raw.Partition, raw.Offset)
		switch {
		case err != nil:
			wantDLQ[pos] = string(err.(*meta.DecodeError).Reason)
		case len(res.Bad) > 0:
			wantDLQ[pos] = string(res.Bad[0].Reason)
		}
		if err == nil {
			wantEvents = append(wantEvents, res.Events...)
		}
	}
	t.Logf("corpus: %d raw records, %d events, %d dead letters", len(raws), len(wantEvents), len(wantDLQ))
	if len(wantEvents) < 50 || len(wantDLQ) < 10 {
		t.Fatalf("corpus yields %d events and %d dead letters; expected a richer corpus", len(wantEvents), len(wantDLQ))
	}

	dec, err := eventcodec.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(eventsTopic)
	var gotEvents []event.Event
	for _, r := range readCommitted(t, brokers, eventsTopic, len(wantEvents), 500*time.Millisecond) {
		var e event.Event
		if err := dec.Decode(context.Background(), r.Value, &e); err != nil {
			t.Fatalf("decoding event at %d/%d: %v", r.Partition, r.Offset, err)
		}
		if string(r.Key) != e.Key() {
			t.Errorf("event %s key = %q, want %q", e.EventID, r.Key, e.Key())
		}
		if want := int32(partitioner.Partition(&kgo.Record{Key: r.Key}, partitions)); r.Partition != want {
			t.Errorf("event %s in partition %d, want %d (murmur2 of its key)", e.EventID, r.Partition, want)
		}
		gotEvents = append(gotEvents, e)
	}
	byID := func(events []event.Event) []event.Event {
		sorted := append([]event.Event(nil), events...)
		sort.SliceStable(sorted, func(i, j int) bool {
			if sorted[i].EventID != sorted[j].EventID {
				return sorted[i].EventID < sorted[j].EventID
			}
			return sorted[i].RawOffset+int64(sorted[i].RawPartition)<<40 < sorted[j].RawOffset+int64(sorted[j].RawPartition)<<40
		})
		return sorted
	}
	if diff := cmp.Diff(byID(wantEvents), byID(gotEvents)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}

	gotDLQ := map[string]string{}
	for _, r := range readCommitted(t, brokers, dlqTopic, len(wantDLQ), 200*time.Millisecond) {
		h := headerMap(r)
		pos := h["reftrail-raw-partition"] + "/" + h["reftrail-raw-offset"]
		gotDLQ[pos] = h["reftrail-dlq-reason"]
		raw := raws[indexOf(t, raws, pos)]
		if string(r.Value) != string(raw.Value) || string(r.Key) != string(raw.Key) {
			t.Errorf("dead letter for %s does not carry the raw key and bytes", pos)
		}
		if h["reftrail-dlq-stage"] != "decode" || h["reftrail-dlq-detail"] == "" || h["reftrail-request-id"] == "" {
			t.Errorf("dead letter for %s headers = %v, want stage decode, a detail and the raw headers", pos, h)
		}
	}
	if diff := cmp.Diff(wantDLQ, gotDLQ); diff != "" {
		t.Errorf("dead letters by raw position (-want +got):\n%s", diff)
	}

	metrics := testenv.Scrape(t, url)
	for name, want := range map[string]int{
		"reftrail_enrich_records_consumed_total": len(raws),
		"reftrail_enrich_events_produced_total":  len(wantEvents),
		"reftrail_enrich_dlq_records_total":      len(wantDLQ),
	} {
		if got := testenv.Metric(metrics, name); got != float64(want) {
			t.Errorf("%s sums to %v, want %d", name, got, want)
		}
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "same topic twice", env: map[string]string{"EVENTS_TOPIC": "meta.webhooks.raw"}, want: `setting EVENTS_TOPIC="meta.webhooks.raw": must differ from RAW_TOPIC`},
		{name: "poll size", env: map[string]string{"ENRICH_MAX_POLL_RECORDS": "0"}, want: `setting ENRICH_MAX_POLL_RECORDS="0": must be between 1 and 100000`},
		// A bad registry URL once made enrich retry registration forever.
		{name: "registry url", env: map[string]string{"SCHEMA_REGISTRY_URL": "registry:8081"}, want: `setting SCHEMA_REGISTRY_URL="registry:8081": must be an http:// or https:// URL`},
		{name: "tls half configured", env: map[string]string{"KAFKA_TLS_CERT_FILE": "/etc/cert.pem"}, want: `setting KAFKA_TLS_CERT_FILE="/etc/cert.pem": KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), nil, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Errorf("run = %v, want %q", err, tt.want)
			}
		})
	}
}

func indexOf(t testing.TB, raws []*kgo.Record, pos string) int {
	t.Helper()
	for i, r := range raws {
		if fmt.Sprintf("%d/%d", r.Partition, r.Offset) == pos {
			return i
		}
	}
	t.Fatalf("dead letter names raw position %s, which was never produced", pos)
	return -1
}
