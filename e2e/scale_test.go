package e2e

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

// TestIntegrationPipelineScaleOut runs three enrich and two sink processes in
// their consumer groups while a stream flows through ingest. Mid-stream one
// enrich and one sink are SIGKILLed and replaced (same transactional id, same
// static member id: what a StatefulSet's new pod does), and a fourth enrich
// and a third sink join. ClickHouse must end with exactly the plan, and the
// topics must show exactly once: every raw record's events are in the events
// topic once each for a read_committed reader, its dead letter likewise, and
// no raw offset is skipped.
func TestIntegrationPipelineScaleOut(t *testing.T) {
	ch := chtest.Start(t)
	db := ch.NewDatabase(t)
	p := preparePipeline(t, db, 6, []string{"CLICKHOUSE_ADDR=" + ch.Addr, "CLICKHOUSE_DATABASE=" + db,
		"CLICKHOUSE_USERNAME=" + ch.Username, "CLICKHOUSE_PASSWORD=" + ch.Password})
	p.ch = ch
	for i := 1; i <= 4; i++ {
		p.addEnrich("enrich-" + strconv.Itoa(i))
	}
	// sink-1 and sink-3 are dynamic members; sink-2 is static, so that its
	// replacement takes its partitions back at once instead of after the
	// dead member's session timeout (45 s).
	p.addSink("sink-1")
	p.addSink("sink-2", "SINK_INSTANCE_ID=e2e-sink-2")
	p.addSink("sink-3")
	for _, name := range []string{"ingest", "enrich-1", "enrich-2", "enrich-3", "sink-1", "sink-2"} {
		p.start(name)
	}

	plan, err := traffic.NewPlan(traffic.Options{Seed: 16, Participants: 1500})
	if err != nil {
		t.Fatal(err)
	}
	webhooks := plan.Webhooks()
	// Spread the stream over about 12 s so every change lands in its middle.
	rate := float64(len(webhooks)) / 12
	sent := make(chan error, 1)
	go func() {
		sent <- p.send(context.Background(), webhooks, traffic.SendOptions{Rate: rate, Concurrency: 16, Retries: 8})
	}()

	time.Sleep(2 * time.Second)
	p.kill("enrich-2")
	p.kill("sink-2")
	time.Sleep(time.Second)
	p.start("enrich-2")
	p.start("sink-2")
	time.Sleep(2 * time.Second)
	p.start("enrich-4")
	p.start("sink-3")

	if err := <-sent; err != nil {
		t.Fatalf("sending: %v", err)
	}
	p.checkStored(plan.Expected(), 60*time.Second)
	p.checkExactlyOnce(60 * time.Second)
}

// checkExactlyOnce reads the raw, events and DLQ topics whole (the last two
// read_committed) once enrich's group has committed every raw offset, and
// checks each raw record against what enrich's decoder makes of it: its
// events, each exactly once with its lineage, and one dead letter when it
// has bad items. Copies of an event_id under other raw offsets are
// redeliveries (Meta's, or a sender's retry after a 503), absorbed in
// ClickHouse; the test logs how many.
func (p *pipeline) checkExactlyOnce(timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(p.brokers, ",")...))
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	// Wait until enrich's group has committed the raw topic's end.
	var ends kadm.ListedOffsets
	var committed kadm.OffsetResponses
	for {
		e, err := adm.ListEndOffsets(ctx, kafka.DefaultRawTopic)
		c, cerr := adm.FetchOffsets(ctx, "reftrail-enrich")
		if err == nil && cerr == nil {
			ends, committed = e, c
			if caughtUp(ends, committed) {
				break
			}
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("enrich's group did not commit the raw topic's end within %v: ends %v, committed %v\n%s",
				timeout, ends, committed, p.logTails("enrich"))
		case <-time.After(200 * time.Millisecond):
		}
	}

	raw := readTopic(ctx, p.t, p.brokers, kafka.DefaultRawTopic)
	events := readTopic(ctx, p.t, p.brokers, kafka.DefaultEventsTopic)
	dlq := readTopic(ctx, p.t, p.brokers, kafka.DefaultDLQTopic)

	type lineage struct {
		partition int32
		offset    int64
	}
	dec, err := eventcodec.NewDecoder(nil)
	if err != nil {
		p.t.Fatal(err)
	}
	gotEvents := map[lineage][]string{}
	perID := map[string]int{}
	for _, r := range events {
		var e event.Event
		if err := dec.Decode(ctx, r.Value, &e); err != nil {
			p.t.Fatalf("decoding an event at %d/%d: %v", r.Partition, r.Offset, err)
		}
		l := lineage{e.RawPartition, e.RawOffset}
		gotEvents[l] = append(gotEvents[l], e.EventID)
		perID[e.EventID]++
	}
	gotDLQ := map[lineage]int{}
	for _, r := range dlq {
		var l lineage
		for _, h := range r.Headers {
			switch h.Key {
			case kafka.HeaderRawPartition:
				n, _ := strconv.ParseInt(string(h.Value), 10, 32)
				l.partition = int32(n)
			case kafka.HeaderRawOffset:
				l.offset, _ = strconv.ParseInt(string(h.Value), 10, 64)
			}
		}
		gotDLQ[l]++
	}

	wantEvents := map[lineage][]string{}
	wantDLQ := map[lineage]int{}
	for _, r := range raw {
		l := lineage{r.Partition, r.Offset}
		res, err := meta.Decode(r.Value, meta.Source{Partition: r.Partition, Offset: r.Offset})
		if err != nil || len(res.Bad) > 0 {
			wantDLQ[l] = 1
		}
		for _, e := range res.Events {
			wantEvents[l] = append(wantEvents[l], e.EventID)
		}
	}
	for _, m := range []map[lineage][]string{gotEvents, wantEvents} {
		for _, ids := range m {
			slices.Sort(ids)
		}
	}
	opt := cmp.Comparer(func(a, b lineage) bool { return a == b })
	if diff := cmp.Diff(wantEvents, gotEvents, opt); diff != "" {
		p.t.Errorf("event ids by raw partition/offset, %d raw records (-decoded from raw +read_committed events topic):\n%s", len(raw), diff)
	}
	if diff := cmp.Diff(wantDLQ, gotDLQ, opt); diff != "" {
		p.t.Errorf("dead letters by raw partition/offset (-decoded from raw +read_committed DLQ topic):\n%s", diff)
	}
	copies := 0
	for _, n := range perID {
		copies += n - 1
	}
	p.t.Logf("%d raw records, %d events (%d distinct ids, %d copies from redeliveries), %d dead letters",
		len(raw), len(events), len(perID), copies, len(dlq))
}

// caughtUp reports whether committed holds every partition of ends at its
// end offset; an empty partition has nothing to commit.
func caughtUp(ends kadm.ListedOffsets, committed kadm.OffsetResponses) bool {
	ok := len(ends) > 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset == 0 {
			return
		}
		c, found := committed.Lookup(o.Topic, o.Partition)
		ok = ok && found && c.Err == nil && c.At == o.Offset
	})
	return ok
}

// readTopic reads topic from its start to its last stable offset, as a
// read_committed reader: records of aborted transactions are skipped. Control
// records (transaction markers) are fetched too, only to see where a
// partition ends: a transactional partition ends in one.
func readTopic(ctx context.Context, t testing.TB, brokers, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("listing %s's end offsets: %v", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	var recs []*kgo.Record
	for len(remaining) > 0 {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions %v not read to their end", topic, slices.Sorted(maps.Keys(remaining)))
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			t.Fatalf("reading %s/%d: %v", topic, partition, err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				recs = append(recs, r)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if n := len(fp.Records); n > 0 && fp.Records[n-1].Offset+1 >= remaining[fp.Partition] {
				delete(remaining, fp.Partition)
			}
		})
	}
	return recs
}
