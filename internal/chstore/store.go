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
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Store writes events and dead letters to ClickHouse, keeps the links
// catalog, and answers the read API (Participant, Windows, the overview). It is safe for concurrent use. Its connections have no default
// database, so Open works before Migrate has created the database; every
// statement names Config.Database. The files of schemas/clickhouse/queries name
// their tables without a database, so they run on a second pool (Connect)
// whose default database is Config.Database; it connects on first use, after
// Migrate.
type Store struct {
	conn     driver.Conn
	queries  driver.Conn
	database string
	cfg      Config
	// now is the clock of windows "now" and of settled funnel outcomes;
	// tests replace it.
	now func() time.Time
	// settleMu serializes SettleOutcomes.
	settleMu sync.Mutex
}

// Open connects to the server of cfg and pings it. Close the Store when done.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	conn, err := ConnectServer(cfg)
	if err != nil {
		return nil, fmt.Errorf("opening ClickHouse store: %w", err)
	}
	queries, err := Connect(cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("opening ClickHouse store: %w", err)
	}
	s := &Store{conn: conn, queries: queries, database: cfg.Database, cfg: cfg, now: time.Now}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening ClickHouse store: %w", err)
	}
	return s, nil
}

// Ping checks that the server answers; the sink's /readyz calls it.
func (s *Store) Ping(ctx context.Context) error {
	return ping(ctx, s.conn, s.cfg.Addr)
}

// migrateReadTimeout is the least read timeout of Store.Migrate's
// connection: a migration that backfills an aggregate from events (0006)
// answers only when done, which took over ten minutes for ten million events
// on a busy 2-core machine, and an INSERT ... SELECT the client gave up on
// runs on in the server while the migration stays unrecorded.
const migrateReadTimeout = 2 * time.Hour

// Migrate runs Migrate on the Store's database (ON CLUSTER when the Store's
// Config names a cluster and opts does not), on a connection of its own whose
// read timeout is at least migrateReadTimeout.
func (s *Store) Migrate(ctx context.Context, opts MigrateOptions) error {
	if opts.Cluster == "" {
		opts.Cluster = s.cfg.Cluster
	}
	cfg := s.cfg
	cfg.ReadTimeout = max(cfg.ReadTimeout, migrateReadTimeout)
	cfg.MaxOpenConns = 1
	conn, err := ConnectServer(cfg)
	if err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	defer conn.Close()
	return Migrate(ctx, conn, s.database, opts)
}

// Close closes the connections.
func (s *Store) Close() error {
	if err := errors.Join(s.conn.Close(), s.queries.Close()); err != nil {
		return fmt.Errorf("closing ClickHouse store: %w", err)
	}
	return nil
}

// each runs the query file name with params bound, on the reads pool, and
// calls scan for every row. limit > 0 appends LIMIT limit (18.16 takes no
// expression, hence no parameter, in LIMIT).
func (s *Store) each(ctx context.Context, name string, params map[string]any, limit int, scan func(driver.Rows) error) error {
	text, err := Query(name)
	if err != nil {
		return err
	}
	q, err := BindQuery(text, params)
	if err != nil {
		return err
	}
	if limit > 0 {
		q += "\nLIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.queries.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// quoteString returns s as a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
