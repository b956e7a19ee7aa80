package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestIntegrationSinkWritesEventsAndDeadLetters sends events, duplicates of
// some, undecodable records and DLQ records through sink, and checks what
// ClickHouse holds and what the metrics say.
func TestIntegrationSinkWritesEventsAndDeadLetters(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	brokers := kafkatest.Brokers(t)

	evs := testEvents("e", 200)
	recs := eventRecords(t, evs)
	// The same event record twice in the topic, and the events of a
	// redelivered webhook: same ids, from another raw record.
	recs = append(recs, eventRecords(t, evs[:10])...)
	redelivered := append(evs[:0:0], evs[50:60]...)
	for i := range redelivered {
		redelivered[i].RawOffset += 1000
	}
	recs = append(recs, eventRecords(t, redelivered)...)
	eventRows := len(recs)

	unknownFingerprint := binary.LittleEndian.AppendUint64([]byte{0xc3, 0x01}, 0x1234)
	for _, v := range [][]byte{{0xff, 1, 2}, unknownFingerprint, {0xc3, 0x01, 0x02}} {
		recs = append(recs, &kgo.Record{Topic: eventsTopic, Key: []byte("k"), Value: v, Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
	}
	dlq := func(rawOffset string) *kgo.Record {
		return &kgo.Record{Topic: dlqTopic, Value: []byte(`{"object":"instagram"`), Headers: []kgo.RecordHeader{
			{Key: "reftrail-received-at", Value: []byte("1763700100000")},
			{Key: "reftrail-request-id", Value: []byte("req-" + rawOffset)},
			{Key: "reftrail-dlq-reason", Value: []byte("invalid_json")},
			{Key: "reftrail-dlq-detail", Value: []byte("unexpected end of JSON input")},
			{Key: "reftrail-dlq-stage", Value: []byte("decode")},
			{Key: "reftrail-raw-partition", Value: []byte("1")},
			{Key: "reftrail-raw-offset", Value: []byte(rawOffset)},
		}}
	}
	// The second record for raw offset 5 is a DLQ redelivery: one row.
	recs = append(recs, dlq("5"), dlq("6"), dlq("5"))
	produce(t, brokers, recs)

	env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
	env["FLUSH_INTERVAL"] = "100ms"
	s := startSink(t, env)
	testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)

	conn := srv.Conn(t, "")
	want := wantCounts(len(evs))
	waitFor(t, 30*time.Second, "every record written", func() bool {
		m := testenv.Scrape(t, s.url)
		return testenv.Metric(m, "reftrail_sink_rows_written_total", `table="events"`) == float64(eventRows) &&
			testenv.Metric(m, "reftrail_sink_rows_written_total", `table="dead_letters"`) == 6
	})
	if got := readCounts(t, conn, db); got != want {
		t.Errorf("counts = %+v, want %+v (duplicates must not count)", got, want)
	}
	if got := count(t, conn, "SELECT count() FROM "+db+".events"); got < uint64(len(evs)) {
		t.Errorf("events holds %d rows, want at least %d", got, len(evs))
	}

	type deadLetter struct {
		Topic                 string
		Partition             int32
		Offset                int64
		Reason, Stage, Detail string
		Payload               string
		HeaderKeys            []string
		ReceivedMs            int64
	}
	rows, err := conn.Query(context.Background(), "SELECT raw_topic, raw_partition, raw_offset, reason, stage, detail, payload, header_keys, received_time_ms FROM "+db+".dead_letters FINAL ORDER BY raw_topic, raw_partition, raw_offset")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []deadLetter
	for rows.Next() {
		var d deadLetter
		if err := rows.Scan(&d.Topic, &d.Partition, &d.Offset, &d.Reason, &d.Stage, &d.Detail, &d.Payload, &d.HeaderKeys, &d.ReceivedMs); err != nil {
			t.Fatal(err)
		}
		got = append(got, d)
	}
	if len(got) != 5 {
		t.Fatalf("dead_letters FINAL holds %d rows, want 5 (3 undecodable events, 2 distinct DLQ records): %+v", len(got), got)
	}
	dlqKeys := []string{"reftrail-received-at", "reftrail-request-id", "reftrail-dlq-reason", "reftrail-dlq-detail", "reftrail-dlq-stage", "reftrail-raw-partition", "reftrail-raw-offset"}
	for i, off := range []int64{5, 6} {
		want := deadLetter{Topic: rawTopic, Partition: 1, Offset: off, Reason: "invalid_json", Stage: "decode", Detail: "unexpected end of JSON input",
			Payload: `[redacted] 21 bytes, not JSON`, HeaderKeys: dlqKeys, ReceivedMs: 1763700100000}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("DLQ dead letter (-want +got):\n%s", diff)
		}
	}
	for _, d := range got[2:] {
		if d.Topic != eventsTopic || d.Reason != "undecodable_event" || d.Stage != "sink" || d.Detail == "" || len(d.HeaderKeys) != 1 || d.ReceivedMs == 0 {
			t.Errorf("undecodable event dead letter = %+v, want topic %s, reason undecodable_event, stage sink, a detail, its header and time", d, eventsTopic)
		}
	}

	m := testenv.Scrape(t, s.url)
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"reftrail_sink_dead_letters_total", `reason="undecodable_event"`, 3},
		{"reftrail_sink_dead_letters_total", `reason="invalid_json"`, 3},
		{"reftrail_sink_insert_retries_total", "", 0},
		{"reftrail_sink_consumer_lag_records", `topic="meta.webhooks.dlq"`, 0},
	} {
		if got := testenv.Metric(m, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	if got := testenv.Metric(m, "reftrail_sink_insert_seconds_count"); got == 0 {
		t.Errorf("reftrail_sink_insert_seconds_count = 0, want inserts timed")
	}
	if got := testenv.Metric(m, "reftrail_sink_batch_rows_sum"); got != float64(len(recs)) {
		t.Errorf("reftrail_sink_batch_rows_sum = %v, want %d", got, len(recs))
	}
}

// TestIntegrationSinkBatches checks that batches end at BATCH_ROWS or at
// FLUSH_INTERVAL, and that shutdown writes what is held.
func TestIntegrationSinkBatches(t *testing.T) {
	srv := chtest.Start(t)
	conn := srv.Conn(t, "")

	t.Run("by size, rest at shutdown", func(t *testing.T) {
		db := srv.NewDatabase(t)
		brokers := kafkatest.Brokers(t)
		produce(t, brokers, eventRecords(t, testEvents("b", 2500)))
		env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
		env["BATCH_ROWS"], env["FLUSH_INTERVAL"] = "1000", "1h"
		s := startSink(t, env)
		testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)
		waitFor(t, 30*time.Second, "two full batches", func() bool {
			return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_batches_written_total", `table="events"`) == 2
		})
		// The remaining 500 wait for the interval: nothing more comes.
		time.Sleep(time.Second)
		m := testenv.Scrape(t, s.url)
		if got := testenv.Metric(m, "reftrail_sink_batches_written_total", `table="events"`); got != 2 {
			t.Errorf("batches written = %v before shutdown, want 2", got)
		}
		if got := testenv.Metric(m, "reftrail_sink_batch_rows_bucket", `le="1024"`) - testenv.Metric(m, "reftrail_sink_batch_rows_bucket", `le="256"`); got != 2 {
			t.Errorf("batches of 257 to 1024 rows = %v, want 2 (of 1000 each)", got)
		}
		if got := count(t, conn, "SELECT count() FROM "+db+".events"); got != 2000 {
			t.Errorf("events rows before shutdown = %d, want 2000", got)
		}
		s.stop()
		if got := readCounts(t, conn, db); got != wantCounts(2500) {
			t.Errorf("counts after shutdown = %+v, want %+v", got, wantCounts(2500))
		}
	})

	t.Run("stopped mid-backlog, then restarted", func(t *testing.T) {
		// The stop comes mid-backlog, most likely during an INSERT: the
		// sink lets it finish, writes the batch it holds, and commits
		// exactly what it wrote, each row once. A sink started after it in
		// the same group reads from the commits: a commit covering rows
		// not written would leave the counts incomplete, one short of them
		// would write rows twice.
		const n = 30000
		db := srv.NewDatabase(t)
		brokers := kafkatest.Brokers(t)
		produce(t, brokers, eventRecords(t, testEvents("w", n)))
		env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
		env["BATCH_ROWS"], env["FLUSH_INTERVAL"] = "1000", "1h"
		first := startSink(t, env)
		testenv.WaitReadyz(t, first.url, http.StatusOK, 60*time.Second)
		waitFor(t, 30*time.Second, "a first batch", func() bool {
			return testenv.Metric(testenv.Scrape(t, first.url), "reftrail_sink_batches_written_total", `table="events"`) >= 1
		})
		first.stop()
		// Raw row counts see copies that merges have not yet collapsed.
		written := count(t, conn, "SELECT uniqExact(event_id) FROM "+db+".events")
		if rows := count(t, conn, "SELECT count() FROM "+db+".events"); rows != written {
			t.Errorf("the first sink wrote %d rows for %d events, want each once", rows, written)
		}
		if c := committed(t, newAdmin(t, brokers)); c != int64(written) {
			t.Errorf("the first sink committed %d records and wrote %d", c, written)
		}
		t.Logf("the first sink wrote %d of %d events", written, n)

		env["METRICS_ADDR"] = testenv.FreeAddr(t)
		second := startSink(t, env)
		waitFor(t, 60*time.Second, "every event", func() bool {
			return readCounts(t, conn, db) == wantCounts(n)
		})
		second.stop()
		if rows := count(t, conn, "SELECT count() FROM "+db+".events"); rows != n {
			t.Errorf("events holds %d rows after both sinks, want %d (one per event)", rows, n)
		}
	})

	t.Run("by interval", func(t *testing.T) {
		db := srv.NewDatabase(t)
		brokers := kafkatest.Brokers(t)
		produce(t, brokers, eventRecords(t, testEvents("i", 2500)))
		env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
		env["BATCH_ROWS"], env["FLUSH_INTERVAL"] = "1000", "100ms"
		s := startSink(t, env)
		testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)
		// The metric counts an INSERT once it has returned, views included;
		// the events rows are visible a little before that.
		waitFor(t, 30*time.Second, "all 2500 rows without shutdown", func() bool {
			return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_rows_written_total", `table="events"`) == 2500
		})
		if got := count(t, conn, "SELECT count() FROM "+db+".events"); got != 2500 {
			t.Errorf("events rows = %d, want 2500", got)
		}
	})
}

// TestIntegrationSinkMigrateFlag checks that `sink -migrate` migrates and
// returns.
func TestIntegrationSinkMigrateFlag(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	env := sinkEnv([]string{"127.0.0.1:1"}, srv, db, "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, []string{"-migrate"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Fatalf("sink -migrate = %v, want nil", err)
	}
	conn := srv.Conn(t, "")
	if got := count(t, conn, "SELECT uniqExact(version) FROM "+db+".schema_migrations"); got < 4 {
		t.Errorf("schema_migrations holds %d versions, want at least 4", got)
	}
	for _, table := range []string{"events", "dead_letters", "participants", "campaign_daily"} {
		if got := count(t, conn, fmt.Sprintf("SELECT count() FROM system.tables WHERE database = '%s' AND name = '%s'", db, table)); got != 1 {
			t.Errorf("table %s missing after -migrate", table)
		}
	}
}
