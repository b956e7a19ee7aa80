// Package chstore is reftrail's ClickHouse layer: the schema (Migrate), the
// sink's inserts (Store) and the dashboard queries (Query, BindQuery).
//
// Everything here runs on ClickHouse 18.16 (Debian's package, used by CI) and on
// current releases. Against 18.16, clickhouse-go v2 works only over the native
// protocol (its HTTP handshake fails), PrepareBatch needs an explicit column
// list, and an INSERT ... VALUES sent through Exec hangs until the read timeout;
// hence every insert here is a PrepareBatch with its columns listed.
package chstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where the Store writes. Zero fields take the defaults named below,
// which match the sink's CLICKHOUSE_* settings.
type Config struct {
	// Addr is the host:port of the server's native protocol (not HTTP).
	// Default "127.0.0.1:9000".
	Addr string
	// Database holds reftrail's tables; it need not exist before Migrate.
	// Default "reftrail".
	Database string
	// Username and Password authenticate. Default user "default", no password.
	Username string
	Password string
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for the server during a query or insert; keep
	// it under the sink consumer group's rebalance timeout. Default 30s.
	ReadTimeout time.Duration
	// MaxOpenConns caps the connection pool. Default 4.
	MaxOpenConns int
	// Compress turns on LZ4 compression of the blocks sent and received. It
	// saves network and costs CPU on both ends: in BenchmarkInsertEvents, with
	// client and server on one 2-CPU host, it made inserts 3 times slower, so it
	// is off by default; turn it on when the network, not CPU, is the limit.
	Compress bool
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:9000"
	}
	if c.Database == "" {
		c.Database = "reftrail"
	}
	if c.Username == "" {
		c.Username = "default"
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 4
	}
	return c
}

func (c Config) validate() error {
	if !identRE.MatchString(c.Database) {
		return fmt.Errorf("database name %q must match %s", c.Database, identRE)
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.MaxOpenConns < 0 {
		return fmt.Errorf("timeouts and MaxOpenConns must not be negative")
	}
	return nil
}

// Store writes events and dead letters to ClickHouse. It is safe for concurrent
// use. Its connections have no default database, so Open works before Migrate
// has created the database; every statement names Config.Database.
type Store struct {
	conn     driver.Conn
	database string
	cfg      Config
}

// Open connects to the server of cfg and pings it. Close the Store when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("opening ClickHouse store: %w", err)
	}
	opts := &clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{cfg.Addr},
		Auth:         clickhouse.Auth{Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		MaxIdleConns: cfg.MaxOpenConns,
	}
	if cfg.Compress {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("opening ClickHouse store at %s: %w", cfg.Addr, err)
	}
	s := &Store{conn: conn, database: cfg.Database, cfg: cfg}
	if err := s.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("opening ClickHouse store: %w", err)
	}
	return s, nil
}

// Ping checks that the server answers; the sink's /readyz calls it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("pinging ClickHouse at %s: %w", s.cfg.Addr, err)
	}
	return nil
}

// Migrate runs Migrate on the Store's database.
func (s *Store) Migrate(ctx context.Context, opts MigrateOptions) error {
	return Migrate(ctx, s.conn, s.database, opts)
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("closing ClickHouse store: %w", err)
	}
	return nil
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
