//go:build unix

package chlocal

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestIntegrationStartStopKeepsData starts a server, writes, stops it,
// checks that its process is gone, and starts it again on the same
// directory and ports: what devstack does across restarts.
func TestIntegrationStartStopKeepsData(t *testing.T) {
	argv, err := FindBinary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FindBinary: %v (and CI is set, so this fails instead of skipping)", err)
		}
		t.Skipf("FindBinary: %v", err)
	}
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	dir := t.TempDir()
	s, err := New(argv, dir, Ports{Native: ports[0], HTTP: ports[1]})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	ctx := context.Background()
	run := func(query string) error {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{s.Addr()}})
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Exec(ctx, query)
	}

	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := run("CREATE TABLE default.kept (x UInt8) ENGINE = MergeTree() ORDER BY x"); err != nil {
		t.Fatalf("creating a table: %v", err)
	}
	pid := s.Pid()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := s.Pid(); got != 0 {
		t.Errorf("Pid() after Stop = %d, want 0", got)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d still exists after Stop", pid)
	}

	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	if err := run("SELECT count() FROM default.kept"); err != nil {
		t.Errorf("reading the table after a restart: %v: the data directory was not kept", err)
	}
}

// TestIntegrationStopLeftover starts a server as an earlier devstack would
// have, then stops it through a second Server on the same directory, as the
// next devstack does at start.
func TestIntegrationStopLeftover(t *testing.T) {
	argv, err := FindBinary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FindBinary: %v (and CI is set, so this fails instead of skipping)", err)
		}
		t.Skipf("FindBinary: %v", err)
	}
	var ports []int
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	dir := t.TempDir()
	earlier, err := New(argv, dir, Ports{Native: ports[0], HTTP: ports[1]})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { earlier.Stop() })
	if err := earlier.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	pid := earlier.Pid()

	next, err := New(argv, dir, Ports{Native: ports[0], HTTP: ports[1]})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got, err := next.StopLeftover()
	if err != nil || got != pid {
		t.Fatalf("StopLeftover = %d, %v; want %d, nil", got, err, pid)
	}
	// StopLeftover returns once the process has ended; the Server that
	// started it notices when it reaps it, a moment later.
	select {
	case <-earlier.Exited():
	case <-time.After(5 * time.Second):
		t.Errorf("the leftover server (pid %d) still runs 5s after StopLeftover", pid)
	}
	if got, err := next.StopLeftover(); got != 0 || err != nil {
		t.Errorf("StopLeftover with nothing left = %d, %v; want 0, nil", got, err)
	}
}
