package main

import (
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// groupID is sink's consumer group, a contract with operators' dashboards.
const groupID = "reftrail-sink"

// identRE is what ClickHouse accepts unquoted as a database or cluster name,
// checked here so that a typo stops the sink before it connects.
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Config is sink's whole configuration, read and validated before any
// connection opens.
type Config struct {
	Kafka kafka.Config
	// EventsTopic (EVENTS_TOPIC) and DLQTopic (DLQ_TOPIC) are consumed.
	EventsTopic string
	DLQTopic    string
	// RawTopic (RAW_TOPIC) names the topic the DLQ's records came from: the
	// DLQ headers carry the raw partition and offset but not the topic, and
	// dead_letters rows are keyed by all three.
	RawTopic string
	// SchemaRegistryURL lets the decoder resolve Confluent schema ids
	// (SCHEMA_REGISTRY_URL); empty reads single-object encoding only.
	SchemaRegistryURL string
	// ClickHouse is where rows go (CLICKHOUSE_ADDR, CLICKHOUSE_DATABASE,
	// CLICKHOUSE_USERNAME, CLICKHOUSE_PASSWORD).
	ClickHouse chstore.Config
	// Cluster runs the migrations ON CLUSTER with replicated engines
	// (CLICKHOUSE_CLUSTER, default empty: a single server).
	Cluster string
	// BatchRows (BATCH_ROWS, default 10000) and FlushInterval
	// (FLUSH_INTERVAL, default 1s) end a batch: whichever comes first, the
	// rows or the age of the oldest pending record.
	BatchRows     int
	FlushInterval time.Duration
	// InstanceID turns on static group membership (SINK_INSTANCE_ID, default
	// empty: dynamic). With it, a restarted sink takes its partitions back at
	// once instead of after the dead member's session timeout (45s), but a
	// stopped sink does not leave the group: its partitions wait out the
	// session timeout before another member gets them. It must be unique per
	// running instance and stable across its restarts (a StatefulSet pod
	// name, say).
	InstanceID string
	// MetricsAddr serves /healthz, /readyz and /metrics (METRICS_ADDR).
	MetricsAddr string
	LogLevel    slog.Level
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Kafka:             kafka.ConfigFromEnv(env),
		EventsTopic:       env.String("EVENTS_TOPIC", "reftrail.events.v1"),
		DLQTopic:          env.String("DLQ_TOPIC", "meta.webhooks.dlq"),
		RawTopic:          env.String("RAW_TOPIC", "meta.webhooks.raw"),
		SchemaRegistryURL: env.String("SCHEMA_REGISTRY_URL", ""),
		ClickHouse: chstore.Config{
			Addr:     env.String("CLICKHOUSE_ADDR", "127.0.0.1:9000"),
			Database: env.String("CLICKHOUSE_DATABASE", "reftrail"),
			Username: env.String("CLICKHOUSE_USERNAME", "default"),
			// Read as is, not trimmed: a password may end in a space.
			Password:    getenv("CLICKHOUSE_PASSWORD"),
			ReadTimeout: insertTimeout,
		},
		Cluster:       env.String("CLICKHOUSE_CLUSTER", ""),
		BatchRows:     int(env.Int("BATCH_ROWS", 10000, 1, 1000000)),
		FlushInterval: env.Duration("FLUSH_INTERVAL", time.Second, time.Millisecond, 24*time.Hour),
		InstanceID:    env.String("SINK_INSTANCE_ID", ""),
		MetricsAddr:   env.String("METRICS_ADDR", ":9102"),
		LogLevel:      obs.LogLevel(env),
	}
	if c.EventsTopic == c.DLQTopic {
		env.Fail("DLQ_TOPIC", "must differ from EVENTS_TOPIC")
	}
	if c.RawTopic == c.EventsTopic || c.RawTopic == c.DLQTopic {
		env.Fail("RAW_TOPIC", "must differ from EVENTS_TOPIC and DLQ_TOPIC")
	}
	if c.SchemaRegistryURL != "" {
		if u, err := url.Parse(c.SchemaRegistryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			env.Fail("SCHEMA_REGISTRY_URL", "must be an http:// or https:// URL")
		}
	}
	if _, _, err := net.SplitHostPort(c.ClickHouse.Addr); err != nil {
		env.Fail("CLICKHOUSE_ADDR", "must be host:port of the native protocol (usually port 9000)")
	}
	if !identRE.MatchString(c.ClickHouse.Database) {
		env.Fail("CLICKHOUSE_DATABASE", "must be letters, digits and underscores, not starting with a digit")
	}
	if c.Cluster != "" && !identRE.MatchString(c.Cluster) {
		env.Fail("CLICKHOUSE_CLUSTER", "must be letters, digits and underscores, not starting with a digit")
	}
	return c, env.Err()
}
