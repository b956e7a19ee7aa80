package main

import (
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// metaAnswerDeadline is how long Meta waits for an answer before it counts a
// delivery as failed; the produce wait must stay under it.
const metaAnswerDeadline = 5 * time.Second

// recordOverheadBytes is the room a raw record needs beside its body: headers
// and framing.
const recordOverheadBytes = 64 << 10

// maxBodyBytesLimit leaves room under kafka.MaxRecordBytes for the record's
// headers and framing.
const maxBodyBytesLimit = kafka.MaxRecordBytes - recordOverheadBytes

// Config is ingest's whole configuration, read and validated before any
// connection opens.
type Config struct {
	Kafka kafka.Config
	// RawTopic receives every accepted POST body unchanged (RAW_TOPIC).
	RawTopic string
	// Addr is the public port (INGEST_ADDR, default :8080): /webhook and
	// /healthz only, the one that faces the internet.
	Addr string
	// MetricsAddr serves /metrics, /readyz and /healthz for the operator
	// (METRICS_ADDR, default :9100); keep it off the internet.
	MetricsAddr string
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
	// SpoolDir holds the spool that keeps webhooks through a Kafka outage
	// (SPOOL_DIR, default empty: no spool, an outage answers 503). One
	// directory per ingest process; it is locked.
	SpoolDir string
	// SpoolMaxBytes caps the spool on disk (SPOOL_MAX_BYTES, default 1 GiB);
	// when it is full, POSTs get 503 again.
	SpoolMaxBytes int64
	LogLevel      slog.Level

	// PublicURL is where people reach ingest from the internet
	// (INGEST_PUBLIC_URL, e.g. https://hooks.example.com). Setting it turns
	// on Meta's data deletion callback, POST /data-deletion, whose answer
	// points at PublicURL/data-deletion/status/<code>. Default empty: off.
	PublicURL string
	// DeletionTopic records the data deletion requests (DELETION_TOPIC).
	DeletionTopic string
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
		MetricsAddr:    env.String("METRICS_ADDR", ":9100"),
		SpoolDir:       env.String("SPOOL_DIR", ""),
		SpoolMaxBytes:  env.Int("SPOOL_MAX_BYTES", 1<<30, 1<<20, 1<<50),
		LogLevel:       obs.LogLevel(env),
		PublicURL:      strings.TrimSuffix(env.String("INGEST_PUBLIC_URL", ""), "/"),
		DeletionTopic:  kafka.DeletionTopicFromEnv(env),
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			env.Fail("INGEST_PUBLIC_URL", "must be an http:// or https:// URL without query, e.g. https://hooks.example.com")
		}
		kafka.RequireDistinctTopics(env,
			kafka.TopicSetting{Variable: "RAW_TOPIC", Topic: c.RawTopic},
			kafka.TopicSetting{Variable: "DELETION_TOPIC", Topic: c.DeletionTopic})
	}
	if c.SpoolDir != "" && c.SpoolMaxBytes < 2*(c.MaxBodyBytes+recordOverheadBytes) {
		env.Fail("SPOOL_MAX_BYTES", "must hold at least two of the largest records, 2 × (MAX_BODY_BYTES + %d) = %d", recordOverheadBytes, 2*(c.MaxBodyBytes+recordOverheadBytes))
	}
	if c.MetricsAddr == c.Addr {
		env.Fail("METRICS_ADDR", "must differ from INGEST_ADDR: /metrics and /readyz stay off the public port")
	}
	// A value of only commas and spaces parses to no secret at all, and then
	// every POST would get 401. Failing on it quotes the value, which holds no
	// secret.
	if len(c.AppSecrets) == 0 && env.Required("META_APP_SECRETS") != "" {
		env.Fail("META_APP_SECRETS", "holds no secret: a comma-separated list of App Secrets")
	}
	return c, env.Err()
}
