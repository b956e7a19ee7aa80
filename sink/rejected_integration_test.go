package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestIntegrationSinkDeadLettersRowsClickHouseRefuses makes ClickHouse refuse
// the rows of one participant for their data, as a current server refuses a
// block spanning too many partitions, and checks that sink isolates them,
// dead-letters them with the server's reason, writes every other row, and
// keeps consuming. A column whose DEFAULT is throwIf refuses them on every
// server version, 18.16 included. Before, sink retried the whole batch
// forever and every partition stalled.
func TestIntegrationSinkDeadLettersRowsClickHouseRefuses(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	brokers := kafkatest.Brokers(t)
	env := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
	env["FLUSH_INTERVAL"] = "100ms"
	s := startSink(t, env)
	testenv.WaitReadyz(t, s.url, http.StatusOK, 60*time.Second)

	conn := srv.Conn(t, "")
	if err := conn.Exec(context.Background(), "ALTER TABLE "+db+".events ADD COLUMN refuse UInt8 DEFAULT throwIf(participant_id = 'poison-p0')"); err != nil {
		t.Fatal(err)
	}
	good := testEvents("ok", 300)
	recs := append(eventRecords(t, testEvents("poison", 2)), eventRecords(t, good)...)
	produce(t, brokers, recs)

	waitFor(t, 30*time.Second, "the good rows written and the refused ones dead-lettered", func() bool {
		m := testenv.Scrape(t, s.url)
		return testenv.Metric(m, "reftrail_sink_dead_letters_total", `reason="rejected_by_clickhouse"`) == 2 &&
			count(t, conn, "SELECT uniqExact(event_id) FROM "+db+".events") == uint64(len(good))
	})
	rows, err := conn.Query(context.Background(), "SELECT raw_topic, stage, detail FROM "+db+".dead_letters FINAL WHERE reason = 'rejected_by_clickhouse'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var topic, stage, detail string
		if err := rows.Scan(&topic, &stage, &detail); err != nil {
			t.Fatal(err)
		}
		n++
		if topic != eventsTopic || stage != "sink" || !strings.Contains(detail, "ClickHouse code 395") {
			t.Errorf("dead letter topic %q stage %q detail %q, want %s, sink and the server's code 395", topic, stage, detail, eventsTopic)
		}
	}
	if n != 2 {
		t.Errorf("dead_letters holds %d refused events, want 2", n)
	}

	// Every partition keeps flowing.
	later := testEvents("later", 30)
	produce(t, brokers, eventRecords(t, later))
	waitFor(t, 30*time.Second, "later events written", func() bool {
		return count(t, conn, "SELECT uniqExact(event_id) FROM "+db+".events") == uint64(len(good)+len(later))
	})
}
