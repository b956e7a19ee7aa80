package main

import (
	"log/slog"
	"time"

	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// metaAnswerDeadline is how long Meta waits for an answer before it counts a
// delivery as failed; the produce wait must stay under it.
const metaAnswerDeadline = 5 * time.Second

// maxBodyBytesLimit leaves room under kafka.MaxRecordBytes for the record's
// headers and framing.
const maxBodyBytesLimit = kafka.MaxRecordBytes - 64<<10

// Config is ingest's whole configuration, read and validated before any
// connection opens.
type Config struct {
	Kafka kafka.Config
	// RawTopic receives every accepted POST body unchanged (RAW_TOPIC).
	RawTopic string
	// Addr serves /webhook, /healthz, /readyz and /metrics (INGEST_ADDR).
	Addr string
	// AppSecrets verify X-Hub-Signature-256 (META_APP_SECRETS, comma-separated,
	// required): one per Meta app, and old plus new during a rotation.
	AppSecrets []string
	// VerifyToken answers Meta's subscription handshake (META_VERIFY_TOKEN).
	VerifyToken string
	// MaxBodyBytes caps a POST body (MAX_BODY_BYTES, default 4 MiB); larger
	// bodies get 413.
	MaxBodyBytes int64
	// ProduceTimeout bounds the wait for Kafka's acknowledgement
	// (PRODUCE_TIMEOUT, default 3s, under Meta's 5 s deadline); past it the
	// answer is 503 and Meta redelivers.
	ProduceTimeout time.Duration
	LogLevel       slog.Level
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Kafka:          kafka.ConfigFromEnv(env),
		RawTopic:       kafka.RawTopicFromEnv(env),
		Addr:           env.String("INGEST_ADDR", ":8080"),
		AppSecrets:     env.List("META_APP_SECRETS", nil),
		VerifyToken:    env.Required("META_VERIFY_TOKEN"),
		MaxBodyBytes:   env.Int("MAX_BODY_BYTES", 4<<20, 1024, maxBodyBytesLimit),
		ProduceTimeout: env.Duration("PRODUCE_TIMEOUT", 3*time.Second, 10*time.Millisecond, metaAnswerDeadline-500*time.Millisecond),
		LogLevel:       obs.LogLevel(env),
	}
	if len(c.AppSecrets) == 0 {
		env.Required("META_APP_SECRETS")
	}
	return c, env.Err()
}
