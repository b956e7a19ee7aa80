package chtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestIntegrationStartSharesOneServer(t *testing.T) {
	t.Parallel()
	first := chtest.Start(t)
	tests := []struct{ name string }{{name: "one"}, {name: "two"}, {name: "three"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := chtest.Start(t)
			if srv != first {
				t.Errorf("Start returned server %s, want the shared %s", srv.Addr, first.Addr)
			}
			db := srv.NewDatabase(t)
			conn := srv.Conn(t, db)
			var got string
			if err := conn.QueryRow(context.Background(), "SELECT currentDatabase()").Scan(&got); err != nil {
				t.Fatalf("reading the current database: %v", err)
			}
			if got != db {
				t.Errorf("currentDatabase() = %q, want %q", got, db)
			}
		})
	}
}

func TestIntegrationLocalStopRestart(t *testing.T) {
	t.Parallel()
	srv := chtest.StartLocal(t)
	ctx := context.Background()
	db := srv.NewDatabase(t)
	conn := srv.Conn(t, db)
	if err := conn.Exec(ctx, "CREATE TABLE kept (x UInt8) ENGINE = MergeTree() ORDER BY x"); err != nil {
		t.Fatalf("creating a table: %v", err)
	}

	srv.Stop(t)
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := conn.Ping(pingCtx); err == nil {
		t.Fatalf("Ping after Stop = nil, want an error")
	}

	srv.Restart(t)
	// The pool's connections died with the server; a new one reaches it.
	var n uint64
	if err := srv.Conn(t, db).QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = '"+db+"' AND name = 'kept'").Scan(&n); err != nil {
		t.Fatalf("reading system.tables after Restart: %v", err)
	}
	if n != 1 {
		t.Errorf("after Restart the table exists %d times, want 1: the data directory was not kept", n)
	}
}
