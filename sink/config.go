package main

import (
	"log/slog"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// groupID is sink's consumer group, a contract with operators' dashboards.
const groupID = "reftrail-sink"

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
	// Registry is the schema registry (SCHEMA_REGISTRY_URL, _USERNAME,
	// _PASSWORD, _CA_FILE); an empty URL means Avro single-object
	// encoding, which needs no registry.
	Registry eventcodec.RegistryConfig
	// UnknownSchemaWait is how long an event whose Confluent schema id the
	// registry does not know is retried before it is dead-lettered
	// (UNKNOWN_SCHEMA_WAIT, default 2m): a registry replica may lag the one
	// enrich registered with. The batch waits meanwhile, like a batch
	// ClickHouse refuses.
	UnknownSchemaWait time.Duration
	// ClickHouse is where rows go (CLICKHOUSE_ADDR, CLICKHOUSE_DATABASE,
	// CLICKHOUSE_USERNAME, CLICKHOUSE_PASSWORD), and CLICKHOUSE_CLUSTER runs
	// the migrations ON CLUSTER with replicated engines (default empty: a
	// single server).
	ClickHouse chstore.Config
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
		EventsTopic:       kafka.EventsTopicFromEnv(env),
		DLQTopic:          kafka.DLQTopicFromEnv(env),
		RawTopic:          kafka.RawTopicFromEnv(env),
		Registry:          eventcodec.RegistryConfigFromEnv(env),
		UnknownSchemaWait: env.Duration("UNKNOWN_SCHEMA_WAIT", 2*time.Minute, 0, time.Hour),
		ClickHouse:        chstore.ConfigFromEnv(env),
		BatchRows:         int(env.Int("BATCH_ROWS", 10000, 1, 1000000)),
		FlushInterval:     env.Duration("FLUSH_INTERVAL", time.Second, time.Millisecond, 24*time.Hour),
		InstanceID:        env.String("SINK_INSTANCE_ID", ""),
		MetricsAddr:       env.String("METRICS_ADDR", ":9102"),
		LogLevel:          obs.LogLevel(env),
	}
	kafka.RequireDistinctTopics(env,
		kafka.TopicSetting{Variable: "EVENTS_TOPIC", Topic: c.EventsTopic},
		kafka.TopicSetting{Variable: "DLQ_TOPIC", Topic: c.DLQTopic},
		kafka.TopicSetting{Variable: "RAW_TOPIC", Topic: c.RawTopic})
	c.ClickHouse.ReadTimeout = insertTimeout
	return c, env.Err()
}
