package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// groupID is enrich's consumer group, a contract with operators' dashboards.
const groupID = "reftrail-enrich"

// Config is enrich's whole configuration, read and validated before any
// connection opens.
type Config struct {
	Kafka kafka.Config
	// RawTopic is consumed (RAW_TOPIC); EventsTopic (EVENTS_TOPIC) and DLQTopic
	// (DLQ_TOPIC) are produced to.
	RawTopic    string
	EventsTopic string
	DLQTopic    string
	// Registry is the schema registry (SCHEMA_REGISTRY_URL, _USERNAME,
	// _PASSWORD, _CA_FILE); an empty URL means Avro single-object
	// encoding, which needs no registry.
	Registry eventcodec.RegistryConfig
	// TransactionalID identifies this instance's producer to Kafka and its
	// static group membership (ENRICH_TRANSACTIONAL_ID, default
	// reftrail-enrich-<hostname>). It must be unique per running instance and
	// stable across its restarts, so a restarted instance fences its
	// predecessor's unfinished transaction and takes its partitions back
	// without a rebalance.
	TransactionalID string
	// MaxPollRecords bounds the raw records processed in one transaction
	// (ENRICH_MAX_POLL_RECORDS, default 1000). After a transaction aborted
	// for want of time, the next ones take half as many, growing back by a
	// quarter with each commit.
	MaxPollRecords int
	// TransactionTimeout bounds one transaction from its beginning to its
	// end, flushing included (ENRICH_TRANSACTION_TIMEOUT, default 10s); the
	// broker aborts a transaction left open 5s longer (a crashed instance's),
	// which holds read_committed readers back that long.
	TransactionTimeout time.Duration
	// MetricsAddr serves /healthz, /readyz and /metrics (METRICS_ADDR).
	MetricsAddr string
	LogLevel    slog.Level
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Kafka:              kafka.ConfigFromEnv(env),
		RawTopic:           kafka.RawTopicFromEnv(env),
		EventsTopic:        kafka.EventsTopicFromEnv(env),
		DLQTopic:           kafka.DLQTopicFromEnv(env),
		Registry:           eventcodec.RegistryConfigFromEnv(env),
		TransactionalID:    env.String("ENRICH_TRANSACTIONAL_ID", defaultTransactionalID()),
		MaxPollRecords:     int(env.Int("ENRICH_MAX_POLL_RECORDS", 1000, 1, 100000)),
		TransactionTimeout: env.Duration("ENRICH_TRANSACTION_TIMEOUT", 10*time.Second, time.Second, 5*time.Minute),
		MetricsAddr:        env.String("METRICS_ADDR", ":9101"),
		LogLevel:           obs.LogLevel(env),
	}
	kafka.RequireDistinctTopics(env,
		kafka.TopicSetting{Variable: "RAW_TOPIC", Topic: c.RawTopic},
		kafka.TopicSetting{Variable: "EVENTS_TOPIC", Topic: c.EventsTopic},
		kafka.TopicSetting{Variable: "DLQ_TOPIC", Topic: c.DLQTopic})
	return c, env.Err()
}

func defaultTransactionalID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "local"
	}
	return groupID + "-" + host
}
