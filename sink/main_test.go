package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

const (
	eventsTopic = "reftrail.events.v1"
	dlqTopic    = "meta.webhooks.dlq"
	rawTopic    = "meta.webhooks.raw"
	partitions  = 3
)

// TestMain shares one ClickHouse server among the tests, and lets the kill
// test and the benchmark run sink as a child process of this test binary.
func TestMain(m *testing.M) {
	if os.Getenv("REFTRAIL_SINK_CHILD") == "1" {
		main()
		return
	}
	chtest.Main(m)
}

// sinkEnv is the environment of a sink under test writing to database on srv.
func sinkEnv(brokers []string, srv *chtest.Server, database, metricsAddr string) map[string]string {
	return map[string]string{
		"KAFKA_BROKERS":       strings.Join(brokers, ","),
		"TOPIC_PARTITIONS":    strconv.Itoa(partitions),
		"CLICKHOUSE_ADDR":     srv.Addr,
		"CLICKHOUSE_DATABASE": database,
		"CLICKHOUSE_USERNAME": srv.Username,
		"CLICKHOUSE_PASSWORD": srv.Password,
		"METRICS_ADDR":        metricsAddr,
		"LOG_LEVEL":           "warn",
	}
}

// runningSink is a sink started through run.
type runningSink struct {
	url  string
	stop func() // cancels run and waits for it; idempotent
}

// startSink runs sink through run with env (plus extra) until stop or the end
// of the test, without waiting for /readyz.
func startSink(t testing.TB, env map[string]string) *runningSink {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard) }()
	var stopped bool
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	}
	t.Cleanup(stop)
	return &runningSink{url: "http://" + env["METRICS_ADDR"], stop: stop}
}

// waitFor polls cond until it holds, failing after timeout with what.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testEvents returns n events: pairs of a referral and a message from one
// participant, named with prefix so that streams stay apart. Half of them
// (rounded up) are referrals, one per participant.
func testEvents(prefix string, n int) []event.Event {
	evs := make([]event.Event, n)
	base := time.Date(2025, 11, 21, 8, 0, 0, 0, time.UTC).UnixMilli()
	for i := range evs {
		p := i / 2
		e := event.Event{
			EventID: fmt.Sprintf("%s-%d", prefix, i), Platform: event.Instagram, Kind: event.KindMessage,
			AccountID: "17841400000000001", ParticipantID: fmt.Sprintf("%s-p%d", prefix, p),
			EventTime: base + int64(i)*1000, ReceivedTime: base + int64(i)*1000 + 300, Thread: event.ThreadNew,
			RawPartition: int32(p % partitions), RawOffset: int64(p),
		}
		if i%2 == 0 {
			e.Kind, e.Thread = event.KindReferral, event.ThreadExisting
			e.Referral = &event.Referral{Ref: fmt.Sprintf("campaign_%d", p%10), Source: "SHORTLINKS", Type: "OPEN_THREAD"}
		} else {
			e.MessageID = &e.EventID
		}
		evs[i] = e
	}
	return evs
}

// eventRecords encodes evs as enrich would: single-object encoding, keyed by
// participant.
func eventRecords(t testing.TB, evs []event.Event) []*kgo.Record {
	t.Helper()
	codec, err := eventcodec.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, len(evs))
	for i := range evs {
		b, err := codec.Append(nil, &evs[i])
		if err != nil {
			t.Fatalf("encoding event: %v", err)
		}
		recs[i] = &kgo.Record{Topic: eventsTopic, Key: []byte(evs[i].Key()), Value: b}
	}
	return recs
}

// produce creates the topics and writes recs, each to its Topic.
func produce(t testing.TB, brokers []string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(100000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics := kafka.Config{CreateTopics: true, TopicPartitions: partitions, TopicReplication: -1}
	if err := kafka.EnsureTopics(context.Background(), cl, topics, slog.New(slog.DiscardHandler),
		kafka.Topic{Name: eventsTopic}, kafka.Topic{Name: dlqTopic, LargeRecords: true}); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
}

// count runs a query returning one UInt64.
func count(t testing.TB, conn driver.Conn, query string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// counts are what the tables say, duplicates collapsed.
type counts struct {
	DistinctEvents, Participants, CampaignEvents uint64
}

func readCounts(t testing.TB, conn driver.Conn, db string) counts {
	t.Helper()
	return counts{
		DistinctEvents: count(t, conn, "SELECT uniqExact(event_id) FROM "+db+".events"),
		Participants:   count(t, conn, "SELECT count() FROM "+db+".participants"),
		CampaignEvents: count(t, conn, "SELECT toUInt64(sum(events)) FROM "+db+".campaign_daily"),
	}
}

// wantCounts are the counts of testEvents(_, n).
func wantCounts(n int) counts {
	half := uint64((n + 1) / 2)
	return counts{DistinctEvents: uint64(n), Participants: half, CampaignEvents: half}
}
