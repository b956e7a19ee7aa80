package chstore_test

import (
	"context"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/schemas"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// wantTables are the tables and views the migrations create, with their engines.
var wantTables = map[string]string{
	"campaign_daily":         "View",
	"campaign_daily_agg":     "AggregatingMergeTree",
	"campaign_daily_mv":      "MaterializedView",
	"dead_letters":           "ReplacingMergeTree",
	"dead_letters_summary":   "View",
	"deletion_mappings":      "ReplacingMergeTree",
	"deletion_requests":      "ReplacingMergeTree",
	"erasures":               "MergeTree",
	"events":                 "ReplacingMergeTree",
	"late_event_hours":       "MergeTree",
	"late_event_hours_mv":    "MaterializedView",
	"links":                  "ReplacingMergeTree",
	"message_windows":        "ReplacingMergeTree",
	"message_windows_mv":     "MaterializedView",
	"participant_state":      "AggregatingMergeTree",
	"participant_state_mv":   "MaterializedView",
	"participants":           "View",
	"referral_outcome_hours": "MergeTree",
	"referral_outcomes":      "MergeTree",
	"schema_migrations":      "ReplacingMergeTree",
}

func TestIntegrationMigrate(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	ctx := context.Background()

	tests := []struct {
		name string
		// runs is how many Migrate calls run, concurrently when more than one.
		runs int
		// again re-runs Migrate once more after them.
		again bool
	}{
		{name: "fresh database", runs: 1},
		{name: "re-run is a no-op", runs: 1, again: true},
		{name: "four concurrent runs", runs: 4, again: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A database that does not exist yet: Migrate creates it.
			db := srv.NewDatabase(t) + "_new"
			conn := srv.Conn(t, "")
			t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db) })

			var wg sync.WaitGroup
			errs := make([]error, tt.runs)
			for i := range tt.runs {
				wg.Go(func() { errs[i] = chstore.Migrate(ctx, conn, db, chstore.MigrateOptions{}) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("Migrate run %d: %v", i, err)
				}
			}
			before := schemaOf(t, conn, db)
			if tt.again {
				if err := chstore.Migrate(ctx, conn, db, chstore.MigrateOptions{}); err != nil {
					t.Fatalf("Migrate again: %v", err)
				}
			}
			got := schemaOf(t, conn, db)
			engines := map[string]string{}
			for name, s := range got.tables {
				engines[name] = s.engine
			}
			if diff := cmp.Diff(wantTables, engines); diff != "" {
				t.Errorf("tables (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, got, cmp.AllowUnexported(schema{}, table{})); diff != "" {
				t.Errorf("re-run changed the schema (-before +after):\n%s", diff)
			}
			var versions, distinct uint64
			if err := conn.QueryRow(ctx, "SELECT uniqExact(version), toUInt64(max(version)) FROM "+db+".schema_migrations").Scan(&distinct, &versions); err != nil {
				t.Fatalf("reading schema_migrations: %v", err)
			}
			if wantCount, wantMax := migrationFiles(t); distinct != wantCount || versions != wantMax {
				t.Errorf("schema_migrations holds %d versions up to %d, want %d up to %d", distinct, versions, wantCount, wantMax)
			}
		})
	}
}

func TestIntegrationMigrateRejectsBadNames(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	conn := srv.Conn(t, "")
	tests := []struct {
		name     string
		database string
		opts     chstore.MigrateOptions
	}{
		{name: "database with a dot", database: "reftrail.events"},
		{name: "empty database", database: ""},
		{name: "cluster with a quote", database: "reftrail", opts: chstore.MigrateOptions{Cluster: "c'x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := chstore.Migrate(context.Background(), conn, tt.database, tt.opts); err == nil {
				t.Errorf("Migrate(%q, %+v) = nil, want an error", tt.database, tt.opts)
			}
		})
	}
}

type schema struct{ tables map[string]table }

type table struct{ engine, create string }

// schemaOf reads the tables of db with their engines and CREATE statements.
func schemaOf(t *testing.T, conn driver.Conn, db string) schema {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT name, engine, create_table_query FROM system.tables WHERE database = '"+db+"'")
	if err != nil {
		t.Fatalf("reading system.tables: %v", err)
	}
	defer rows.Close()
	s := schema{tables: map[string]table{}}
	for rows.Next() {
		var name string
		var tb table
		if err := rows.Scan(&name, &tb.engine, &tb.create); err != nil {
			t.Fatalf("reading system.tables: %v", err)
		}
		s.tables[name] = tb
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("reading system.tables: %v", err)
	}
	return s
}

// migrationFiles counts the embedded migration files and returns the highest
// version among them.
func migrationFiles(t *testing.T) (count, highest uint64) {
	t.Helper()
	entries, err := fs.ReadDir(schemas.ClickHouse, "clickhouse/migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		v, err := strconv.ParseUint(strings.SplitN(e.Name(), "_", 2)[0], 10, 32)
		if err != nil {
			t.Fatalf("migration %s: %v", e.Name(), err)
		}
		count, highest = count+1, max(highest, v)
	}
	return count, highest
}
