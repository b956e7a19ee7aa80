package main

import (
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

// queryTimeout bounds one ClickHouse statement of reftrailctl: dashboard
// queries over a long period and waiting on mutations take longer than the
// services' 30 s.
const queryTimeout = 5 * time.Minute

// Config is what reftrailctl reads from the environment, the same variables
// the services read, validated before any connection opens.
type Config struct {
	Kafka       kafka.Config
	RawTopic    string
	EventsTopic string
	DLQTopic    string
	// DeletionTopic holds Meta's data deletion requests and their status
	// (DELETION_TOPIC, default reftrail.deletion.requests).
	DeletionTopic string
	ClickHouse    chstore.Config
	// Registry selects the Confluent framing for replayed events, as enrich's
	// SCHEMA_REGISTRY_* settings do; no URL means single-object encoding.
	Registry eventcodec.RegistryConfig
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Kafka:         kafka.ConfigFromEnv(env),
		RawTopic:      kafka.RawTopicFromEnv(env),
		EventsTopic:   kafka.EventsTopicFromEnv(env),
		DLQTopic:      kafka.DLQTopicFromEnv(env),
		DeletionTopic: kafka.DeletionTopicFromEnv(env),
		ClickHouse:    chstore.ConfigFromEnv(env),

		Registry: eventcodec.RegistryConfigFromEnv(env),
	}
	c.ClickHouse.ReadTimeout = queryTimeout
	kafka.RequireDistinctTopics(env,
		kafka.TopicSetting{Variable: "RAW_TOPIC", Topic: c.RawTopic},
		kafka.TopicSetting{Variable: "EVENTS_TOPIC", Topic: c.EventsTopic},
		kafka.TopicSetting{Variable: "DLQ_TOPIC", Topic: c.DLQTopic},
		kafka.TopicSetting{Variable: "DELETION_TOPIC", Topic: c.DeletionTopic})
	return c, env.Err()
}
