package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestIntegrationSinkClickHouseOutage stops ClickHouse while sink is
// consuming, produces more, and starts ClickHouse again: sink must report not
// ready while it is down, resume by itself, and lose and double-count nothing.
func TestIntegrationSinkClickHouseOutage(t *testing.T) {
	srv := chtest.StartLocal(t)
	db := srv.NewDatabase(t)
	brokers := kafkatest.Brokers(t)
	evs := testEvents("o", 6000)
	first, second := evs[:3000], evs[3000:]
	produce(t, brokers, eventRecords(t, first))

	env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
	env["BATCH_ROWS"], env["FLUSH_INTERVAL"] = "500", "100ms"
	s := startSink(t, env)
	testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)
	waitFor(t, 30*time.Second, "the first 3000 events written", func() bool {
		return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_rows_written_total", `table="events"`) == 3000
	})

	srv.Stop(t)
	produce(t, brokers, eventRecords(t, second))
	testenv.WaitReadyz(t, s.url, http.StatusServiceUnavailable, 30*time.Second)
	waitFor(t, 30*time.Second, "insert retries while ClickHouse is down", func() bool {
		return testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_insert_retries_total") >= 2
	})
	// Held, not skipped: the batch waits and more records stay in Kafka.
	time.Sleep(time.Second)
	if got := testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_rows_written_total", `table="events"`); got != 3000 {
		t.Errorf("rows written while ClickHouse was down = %v, want 3000", got)
	}

	srv.Restart(t)
	testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)
	conn := srv.Conn(t, "")
	// Wait on every count, not just events: an INSERT makes its events part
	// visible before the materialized views' parts, so the views trail the
	// events table by up to one insert.
	want := wantCounts(6000)
	var got counts
	waitFor(t, 60*time.Second, "all 6000 events in ClickHouse and its views", func() bool {
		got = readCounts(t, conn, db)
		return got == want
	})
	t.Logf("events rows (duplicates included) = %d; insert retries = %v", count(t, conn, "SELECT count() FROM "+db+".events"),
		testenv.Metric(testenv.Scrape(t, s.url), "reftrail_sink_insert_retries_total"))
}
