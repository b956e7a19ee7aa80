// Package chtest provides a ClickHouse server to integration tests.
//
// Start finds one, in this order: CLICKHOUSE_ADDR set → that server (with
// CLICKHOUSE_USERNAME and CLICKHOUSE_PASSWORD); else a reachable Docker daemon →
// a clickhouse/clickhouse-server container (image from CHTEST_IMAGE, default
// defaultImage) through testcontainers; else a clickhouse-server (or
// clickhouse) binary on PATH, run on a temporary directory and free ports. With
// none, the test is skipped, unless the environment variable CI is non-empty:
// then it fails.
//
// A server starts in seconds, so Start shares one per test binary: call Main
// from TestMain to stop it after the tests. Without Main, each Start starts a
// server of its own, stopped when its test ends. Tests share the server
// safely, in parallel, by working in a database of their own (NewDatabase).
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chlocal"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// Server is a running ClickHouse server.
type Server struct {
	// Addr is the host:port of the native protocol.
	Addr string
	// Username and Password authenticate.
	Username, Password string

	// mode says where the server comes from: "external", "container" or
	// "local".
	mode string
	// local is the process of a local-binary server, nil otherwise.
	local *chlocal.Server
	// stop releases the server: it ends the process or container, if any.
	stop func() error
}

// errUnavailable marks the reasons to skip: no server can be had here.
var errUnavailable = errors.New("no ClickHouse server available")

var shared struct {
	mu     sync.Mutex
	inMain bool
	once   sync.Once
	srv    *Server
	err    error
}

// Main runs the tests of m, then stops the server Start shared among them.
// Call it from TestMain:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//
// It returns after the tests, and the testing package exits with their result.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	m.Run()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "chtest: stopping the shared ClickHouse server: %v\n", err)
		}
	}
}

// Start returns the test binary's shared server, starting it on first use
// (under Main), or a server of the test's own, stopped in t.Cleanup (without
// Main). It skips or fails t as the package doc says when there is none.
func Start(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	inMain := shared.inMain
	shared.mu.Unlock()
	if !inMain {
		return startOwn(t)
	}
	shared.once.Do(func() {
		shared.srv, shared.err = start(context.Background())
	})
	check(t, shared.err)
	return shared.srv
}

// StartLocal starts a server of the test's own from the binary on PATH, whose
// process the test may Stop and Restart; it is stopped and its directory
// removed in t.Cleanup. It skips t when CLICKHOUSE_ADDR is set (the test needs
// a process to control, and the user chose a server), and when there is no
// binary, unless CI is set: then it fails.
func StartLocal(t testing.TB) *Server {
	t.Helper()
	return StartLocalIn(t, "")
}

// StartLocalIn is StartLocal with the server's data directory made under
// parent (the system's temporary directory when empty): a benchmark may put
// it on a memory file system to take the disk out of its figures.
func StartLocalIn(t testing.TB, parent string) *Server {
	t.Helper()
	if os.Getenv("CLICKHOUSE_ADDR") != "" {
		t.Skip("chtest: CLICKHOUSE_ADDR is set; the test needs a local clickhouse-server process of its own")
	}
	argv, err := chlocal.FindBinary()
	if err != nil {
		testenv.Unavailable(t, "chtest: the test needs a local clickhouse-server process of its own: %v", err)
	}
	srv, err := startLocal(context.Background(), argv, parent)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Errorf("chtest: %v", err)
		}
	})
	return srv
}

func startOwn(t testing.TB) *Server {
	t.Helper()
	srv, err := start(context.Background())
	check(t, err)
	t.Cleanup(func() {
		if err := srv.stop(); err != nil {
			t.Errorf("chtest: %v", err)
		}
	})
	return srv
}

// check skips or fails t for err from start.
func check(t testing.TB, err error) {
	t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, errUnavailable):
		testenv.Unavailable(t, "chtest: %v", err)
	default:
		t.Fatalf("chtest: %v", err)
	}
}

// start finds or starts a server, in the order of the package doc.
func start(ctx context.Context) (*Server, error) {
	if addr := os.Getenv("CLICKHOUSE_ADDR"); addr != "" {
		srv := &Server{
			Addr:     addr,
			Username: os.Getenv("CLICKHOUSE_USERNAME"),
			Password: os.Getenv("CLICKHOUSE_PASSWORD"),
			mode:     "external",
			stop:     func() error { return nil },
		}
		if err := chlocal.WaitReady(ctx, addr, srv.Username, srv.Password, 30*time.Second, nil); err != nil {
			return nil, fmt.Errorf("reaching CLICKHOUSE_ADDR %s: %w", addr, err)
		}
		return srv, nil
	}
	dockerErr := dockerHealthy(ctx)
	if dockerErr == nil {
		return startContainer(ctx)
	}
	argv, binErr := chlocal.FindBinary()
	if binErr == nil {
		return startLocal(ctx, argv, "")
	}
	return nil, fmt.Errorf("%w: CLICKHOUSE_ADDR is not set, Docker is not usable (%v), and %v", errUnavailable, dockerErr, binErr)
}

// Stop stops a server from StartLocal, keeping its data directory and ports
// for Restart: what a test of "ClickHouse stopped mid-stream" needs. It skips t
// for other servers.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.local == nil {
		t.Skipf("chtest: Stop needs a server from StartLocal, not a %s server", s.mode)
	}
	if err := s.local.Stop(); err != nil {
		t.Fatalf("chtest: %v", err)
	}
}

// Restart starts a server stopped by Stop again, on the same data and ports,
// and waits until it answers.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.local == nil {
		t.Skipf("chtest: Restart needs a server from StartLocal, not a %s server", s.mode)
	}
	if err := s.local.Start(context.Background()); err != nil {
		t.Fatalf("chtest: restarting ClickHouse: %v", err)
	}
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// NewDatabase creates a database of unique name for t, dropped in t.Cleanup,
// and returns its name: tests in parallel on one server stay apart.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("chtest: naming a database: %v", err)
	}
	name = "t_" + name + "_" + hex.EncodeToString(b[:])
	conn := s.Conn(t, "")
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("chtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// A test may leave the server stopped; then there is nothing to drop.
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Logf("chtest: dropping database %s: %v", name, err)
		}
	})
	return name
}

// NewStore creates a database for t as NewDatabase does, migrates it, and
// returns a Store on it, closed in t.Cleanup, and the database's name.
func (s *Server) NewStore(t testing.TB) (*chstore.Store, string) {
	t.Helper()
	db := s.NewDatabase(t)
	ctx := context.Background()
	store, err := chstore.Open(ctx, chstore.Config{Addr: s.Addr, Database: db, Username: s.Username, Password: s.Password})
	if err != nil {
		t.Fatalf("chtest: opening a store on %s: %v", db, err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("chtest: closing the store on %s: %v", db, err)
		}
	})
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		t.Fatalf("chtest: migrating %s: %v", db, err)
	}
	return store, db
}

// Conn opens a native connection whose default database is database (the
// server's default when empty), closed in t.Cleanup.
func (s *Server) Conn(t testing.TB, database string) driver.Conn {
	t.Helper()
	conn, err := s.open(database)
	if err != nil {
		t.Fatalf("chtest: connecting to %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (s *Server) open(database string) (driver.Conn, error) {
	cfg := chstore.Config{Addr: s.Addr, Database: database, Username: s.Username, Password: s.Password,
		DialTimeout: 2 * time.Second, ReadTimeout: 60 * time.Second}
	if database == "" {
		return chstore.ConnectServer(cfg)
	}
	return chstore.Connect(cfg)
}
