package chstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chcluster"
	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationMigrateCluster migrates two replicas of one shard ON CLUSTER
// through the first, and checks on both that every table is Replicated* at its
// own ZooKeeper path under the server's macros, that events written through
// the first replica, with the rows the materialized views derive from them,
// read back the same from the second, and that with the second replica down
// a re-run (every migration applied) still succeeds: an ON CLUSTER statement
// would wait for the missing replica.
func TestIntegrationMigrateCluster(t *testing.T) {
	c := chcluster.Start(t, 2)
	ctx := context.Background()
	const db = "reftrail_cluster"
	conns := []driver.Conn{c.Replicas[0].Conn(t, ""), c.Replicas[1].Conn(t, "")}

	for run := range 2 { // the second run finds every migration applied
		if err := chstore.Migrate(ctx, conns[0], db, chstore.MigrateOptions{Cluster: chcluster.Name}); err != nil {
			t.Fatalf("Migrate ON CLUSTER, run %d: %v", run+1, err)
		}
	}

	wantEngines := map[string]string{}
	for name, engine := range wantTables {
		if strings.HasSuffix(engine, "MergeTree") {
			engine = "Replicated" + engine
		}
		wantEngines[name] = engine
	}
	for i, conn := range conns {
		r := c.Replicas[i]
		engines := map[string]string{}
		for name, tb := range schemaOf(t, conn, db).tables {
			engines[name] = tb.engine
		}
		if diff := cmp.Diff(wantEngines, engines); diff != "" {
			t.Errorf("replica %s: tables (-want +got):\n%s", r.Name, diff)
		}
		wantReplicas := map[string]string{}
		for name, engine := range wantEngines {
			if strings.HasPrefix(engine, "Replicated") {
				wantReplicas[name] = "/clickhouse/tables/01/" + db + "/" + name + " " + r.Name
			}
		}
		if diff := cmp.Diff(wantReplicas, replicasOf(t, conn, db)); diff != "" {
			t.Errorf("replica %s: system.replicas zookeeper_path replica_name (-want +got):\n%s", r.Name, diff)
		}
	}

	store, err := chstore.Open(ctx, chstore.Config{Addr: c.Replicas[0].Addr, Database: db, Cluster: chcluster.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var evs []event.Event
	for i := range 50 {
		evs = append(evs, event.Event{
			EventID: fmt.Sprintf("m.%d", i), Platform: event.Instagram, Kind: event.KindMessage,
			AccountID: "ig-1", ParticipantID: fmt.Sprintf("igsid-%d", i%10),
			EventTime: 1710072000000 + int64(i), ReceivedTime: 1710072001000, Thread: event.ThreadNew,
			Referral: &event.Referral{Ref: fmt.Sprintf("ref-%d", i%3), Source: "SHORTLINK", Type: "OPEN_THREAD"},
		})
	}
	// The second insert repeats the first batch: a redelivery, which both
	// replicas must absorb.
	for range 2 {
		if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
			t.Fatal(err)
		}
	}

	counts := `SELECT
    (SELECT uniqExact(event_id) FROM ` + db + `.events),
    (SELECT count() FROM ` + db + `.participants),
    (SELECT sum(events) FROM ` + db + `.campaign_daily)`
	var want [3]uint64
	if err := conns[0].QueryRow(ctx, counts).Scan(&want[0], &want[1], &want[2]); err != nil {
		t.Fatal(err)
	}
	if want != [3]uint64{50, 10, 50} {
		t.Fatalf("replica r1 counts events, participants, campaign_daily events %v, want [50 10 50]", want)
	}
	for _, table := range []string{"events", "participant_state", "message_windows", "campaign_daily_agg"} {
		if err := conns[1].Exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+table); err != nil {
			t.Fatalf("syncing r2's %s: %v", table, err)
		}
	}
	var got [3]uint64
	if err := conns[1].QueryRow(ctx, counts).Scan(&got[0], &got[1], &got[2]); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("replica r2 counts %v, r1 %v", got, want)
	}

	c.Replicas[1].Stop(t)
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chstore.Migrate(ctx, conns[0], db, chstore.MigrateOptions{Cluster: chcluster.Name}); err != nil {
		t.Errorf("Migrate with replica r2 down, nothing pending: %v", err)
	}
}

// replicasOf reads "zookeeper_path replica_name" of the replicated tables of
// db by table name.
func replicasOf(t *testing.T, conn driver.Conn, db string) map[string]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT table, zookeeper_path, replica_name FROM system.replicas WHERE database = '"+db+"'")
	if err != nil {
		t.Fatalf("reading system.replicas: %v", err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var table, path, replica string
		if err := rows.Scan(&table, &path, &replica); err != nil {
			t.Fatalf("reading system.replicas: %v", err)
		}
		got[table] = path + " " + replica
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading system.replicas: %v", err)
	}
	return got
}
