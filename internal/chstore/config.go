package chstore

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/config"
)

// identRE is what ClickHouse accepts unquoted as a database or cluster name.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Config says which ClickHouse server and database reftrail uses. Zero fields
// take the defaults named below, which match the CLICKHOUSE_* settings.
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
	// Cluster, when set, makes Migrate run ON CLUSTER with replicated engines.
	Cluster string
	// TLS connects with TLS (CLICKHOUSE_TLS, default false), as TLS-only
	// servers require (the native protocol's TLS port is usually 9440, as on
	// hosted ClickHouse). CAFile (CLICKHOUSE_CA_FILE) replaces the system
	// roots; CertFile and KeyFile (CLICKHOUSE_TLS_CERT_FILE,
	// CLICKHOUSE_TLS_KEY_FILE) give a client certificate. Any of them implies
	// TLS. The files are read when connecting, so a bad path fails at start.
	TLS                       bool
	CAFile, CertFile, KeyFile string
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

// ConfigFromEnv reads CLICKHOUSE_ADDR, CLICKHOUSE_DATABASE,
// CLICKHOUSE_USERNAME, CLICKHOUSE_PASSWORD (or CLICKHOUSE_PASSWORD_FILE),
// CLICKHOUSE_CLUSTER, CLICKHOUSE_TLS, CLICKHOUSE_CA_FILE,
// CLICKHOUSE_TLS_CERT_FILE and CLICKHOUSE_TLS_KEY_FILE, the settings every
// service and tool that reaches ClickHouse shares; problems are recorded in
// env.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		Addr:     env.String("CLICKHOUSE_ADDR", "127.0.0.1:9000"),
		Database: env.String("CLICKHOUSE_DATABASE", "reftrail"),
		Username: env.String("CLICKHOUSE_USERNAME", "default"),
		// Read as is, not trimmed: a password may end in a space.
		Password: env.Secret("CLICKHOUSE_PASSWORD"),
		Cluster:  env.String("CLICKHOUSE_CLUSTER", ""),
		TLS:      env.Bool("CLICKHOUSE_TLS", false),
		CAFile:   env.String("CLICKHOUSE_CA_FILE", ""),
		CertFile: env.String("CLICKHOUSE_TLS_CERT_FILE", ""),
		KeyFile:  env.String("CLICKHOUSE_TLS_KEY_FILE", ""),
	}
	if c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" {
		c.TLS = true
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		env.Fail("CLICKHOUSE_TLS_CERT_FILE", "CLICKHOUSE_TLS_CERT_FILE and CLICKHOUSE_TLS_KEY_FILE must be set together")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		env.Fail("CLICKHOUSE_ADDR", "must be host:port of the native protocol (usually port 9000)")
	}
	if !identRE.MatchString(c.Database) {
		env.Fail("CLICKHOUSE_DATABASE", "must be letters, digits and underscores, not starting with a digit")
	}
	if c.Cluster != "" && !identRE.MatchString(c.Cluster) {
		env.Fail("CLICKHOUSE_CLUSTER", "must be letters, digits and underscores, not starting with a digit")
	}
	return c
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
	if c.Cluster != "" && !identRE.MatchString(c.Cluster) {
		return fmt.Errorf("cluster name %q must match %s", c.Cluster, identRE)
	}
	if c.DialTimeout < 0 || c.ReadTimeout < 0 || c.MaxOpenConns < 0 {
		return fmt.Errorf("timeouts and MaxOpenConns must not be negative")
	}
	return nil
}

// Connect returns a connection pool to cfg's server whose queries run in
// cfg.Database, which must exist: for tools that read reftrail's tables by
// their plain names. Connections are made on first use.
func Connect(cfg Config) (driver.Conn, error) {
	return connect(cfg, true)
}

// ConnectServer is Connect without a default database, for work that may
// precede the database: migrations, waiting for a server to start.
func ConnectServer(cfg Config) (driver.Conn, error) {
	return connect(cfg, false)
}

func connect(cfg Config, inDatabase bool) (driver.Conn, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse: %w", err)
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
	if inDatabase {
		opts.Auth.Database = cfg.Database
	}
	if cfg.Compress {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	if cfg.TLS || cfg.CAFile != "" || cfg.CertFile != "" {
		tc, err := config.TLSFiles{
			CA: cfg.CAFile, Cert: cfg.CertFile, Key: cfg.KeyFile,
			CAVar: "CLICKHOUSE_CA_FILE", CertVar: "CLICKHOUSE_TLS_CERT_FILE", KeyVar: "CLICKHOUSE_TLS_KEY_FILE",
		}.Config()
		if err != nil {
			return nil, fmt.Errorf("connecting to ClickHouse: %w", err)
		}
		opts.TLS = tc
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("connecting to ClickHouse at %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// ping checks that conn's server answers.
func ping(ctx context.Context, conn driver.Conn, addr string) error {
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("pinging ClickHouse at %s: %w", addr, err)
	}
	return nil
}
