// Package kafka builds reftrail's franz-go clients from configuration: brokers,
// TLS, SASL, logging through kslog and metrics through kprom, and creates the
// topics a service needs at start-up.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kprom"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/config"
)

// Config is how a service reaches Kafka and how it creates its topics.
type Config struct {
	// Brokers are the seed brokers (KAFKA_BROKERS, default 127.0.0.1:9092).
	Brokers []string

	// TLS enables TLS (KAFKA_TLS). TLSCAFile (KAFKA_TLS_CA_FILE) replaces the
	// system roots; TLSCertFile and TLSKeyFile (KAFKA_TLS_CERT_FILE,
	// KAFKA_TLS_KEY_FILE) give a client certificate for mutual TLS. Any of
	// them implies TLS.
	TLS         bool
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string

	// SASLMechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	// (KAFKA_SASL_MECHANISM, default none), with KAFKA_SASL_USERNAME and
	// KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE). PLAIN sends the
	// password as is, so it is refused without TLS unless
	// KAFKA_SASL_PLAIN_WITHOUT_TLS=true.
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string

	// CreateTopics makes the service create its topics at start-up when they
	// are missing (KAFKA_CREATE_TOPICS, default true). Clusters that forbid
	// creation are tolerated: the service logs it and goes on.
	CreateTopics bool
	// TopicPartitions (TOPIC_PARTITIONS, default 6) and TopicReplication
	// (TOPIC_REPLICATION_FACTOR, default -1: the broker's default) apply to
	// topics this service creates; existing topics are left as they are.
	TopicPartitions  int32
	TopicReplication int16
	// RawRetention (RAW_RETENTION, default 168h) and DLQRetention
	// (DLQ_RETENTION, default 168h) are the retention.ms of the raw and DLQ
	// topics when this service creates them. Both hold webhook bodies with
	// personal data (message text, opt-in tokens) kept only for replay.
	RawRetention time.Duration
	DLQRetention time.Duration
}

// defaultRetention keeps raw bodies and dead letters a week: time to notice a
// decoder problem, fix it and replay, without keeping personal data longer.
const defaultRetention = 7 * 24 * time.Hour

// ConfigFromEnv reads the Kafka settings; problems are recorded in env.
func ConfigFromEnv(env *config.Env) Config {
	c := Config{
		Brokers:          env.List("KAFKA_BROKERS", []string{"127.0.0.1:9092"}),
		TLS:              env.Bool("KAFKA_TLS", false),
		TLSCAFile:        env.String("KAFKA_TLS_CA_FILE", ""),
		TLSCertFile:      env.String("KAFKA_TLS_CERT_FILE", ""),
		TLSKeyFile:       env.String("KAFKA_TLS_KEY_FILE", ""),
		SASLMechanism:    env.OneOf("KAFKA_SASL_MECHANISM", "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
		SASLUsername:     env.String("KAFKA_SASL_USERNAME", ""),
		SASLPassword:     env.Secret("KAFKA_SASL_PASSWORD"),
		CreateTopics:     env.Bool("KAFKA_CREATE_TOPICS", true),
		TopicPartitions:  int32(env.Int("TOPIC_PARTITIONS", 6, 1, 10000)),
		TopicReplication: int16(env.Int("TOPIC_REPLICATION_FACTOR", -1, -1, 32)),
		RawRetention:     env.Duration("RAW_RETENTION", defaultRetention, time.Hour, 365*24*time.Hour),
		DLQRetention:     env.Duration("DLQ_RETENTION", defaultRetention, time.Hour, 365*24*time.Hour),
	}
	if c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" {
		c.TLS = true
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		env.Fail("KAFKA_TLS_CERT_FILE", "KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together")
	}
	if c.SASLMechanism != "" && (c.SASLUsername == "" || c.SASLPassword == "") {
		env.Fail("KAFKA_SASL_MECHANISM", "needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
	}
	if c.SASLMechanism == "" && c.SASLUsername != "" {
		env.Fail("KAFKA_SASL_USERNAME", "set, but KAFKA_SASL_MECHANISM is not")
	}
	if c.SASLMechanism == "PLAIN" && !c.TLS && !env.Bool("KAFKA_SASL_PLAIN_WITHOUT_TLS", false) {
		env.Fail("KAFKA_SASL_MECHANISM", "PLAIN sends the password in clear text: set KAFKA_TLS=true, or KAFKA_SASL_PLAIN_WITHOUT_TLS=true on a network you trust")
	}
	return c
}

// NewClient returns a client for cfg; see Options.
func NewClient(cfg Config, service string, logger *slog.Logger, reg prometheus.Registerer, opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := Options(cfg, service, logger, reg)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return client, nil
}

// Options returns the client options for cfg: seed brokers, TLS, SASL, logging
// through logger and kprom metrics named reftrail_<service>_... in reg. TLS
// files are read here, so a bad path fails at start-up. franz-go logs at info
// for every transaction and rebalance, so its messages are kept to warnings
// and errors unless logger is enabled for debug.
func Options(cfg Config, service string, logger *slog.Logger, reg prometheus.Registerer) ([]kgo.Opt, error) {
	kafkaLogger := logger.With("component", "kafka")
	if !logger.Enabled(context.Background(), slog.LevelDebug) {
		kafkaLogger = slog.New(minLevel{Handler: kafkaLogger.Handler(), min: slog.LevelWarn})
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("reftrail-" + service),
		kgo.WithLogger(kslog.New(kafkaLogger)),
		kgo.WithHooks(kprom.NewMetrics("reftrail_"+service, kprom.Registerer(reg))),
	}
	if cfg.TLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if m := saslMechanism(cfg); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// minLevel drops records below min.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	return config.TLSFiles{
		CA: cfg.TLSCAFile, Cert: cfg.TLSCertFile, Key: cfg.TLSKeyFile,
		CAVar: "KAFKA_TLS_CA_FILE", CertVar: "KAFKA_TLS_CERT_FILE", KeyVar: "KAFKA_TLS_KEY_FILE",
	}.Config()
}

func saslMechanism(cfg Config) sasl.Mechanism {
	switch cfg.SASLMechanism {
	case "PLAIN":
		return plain.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: cfg.SASLUsername, Pass: cfg.SASLPassword}.AsSha512Mechanism()
	}
	return nil
}

// MaxRecordBytes is the largest record reftrail writes: a raw webhook body
// (ingest caps MAX_BODY_BYTES below it) and its dead letter. Kafka's default of
// 1 MB would refuse Meta's larger batches, so producers raise their batch limit
// to this and the raw and DLQ topics are created with it as max.message.bytes.
const MaxRecordBytes = 16 << 20

// Topic is a topic a service needs, with the settings it is created with.
type Topic struct {
	Name string
	// LargeRecords creates the topic with max.message.bytes = MaxRecordBytes.
	LargeRecords bool
	// Retention creates the topic with this retention.ms; zero keeps the
	// broker's default.
	Retention time.Duration
	// Compact creates the topic with cleanup.policy=compact: Kafka keeps the
	// latest record of every key for good, for topics that hold a state per
	// key (the deletion requests) rather than a stream.
	Compact bool
}

// RawTopic is the raw topic as reftrail creates it: large records (webhook
// bodies), kept for cfg.RawRetention.
func RawTopic(cfg Config, name string) Topic {
	return Topic{Name: name, LargeRecords: true, Retention: cfg.RawRetention}
}

// DLQTopic is the DLQ topic as reftrail creates it: large records (raw bodies
// with their headers), kept for cfg.DLQRetention, since they are there for
// replay only.
func DLQTopic(cfg Config, name string) Topic {
	return Topic{Name: name, LargeRecords: true, Retention: cfg.DLQRetention}
}

// minInsyncReplicas is what topics created with minInsyncFrom replicas or
// more get as min.insync.replicas, so that acks=all means two copies: the
// broker's default of 1 lets a write acknowledged by the leader alone be lost
// with it.
const (
	minInsyncReplicas = "2"
	minInsyncFrom     = 3
)

// topicConfigs are the configurations t is created with at replication.
func topicConfigs(t Topic, replication int16) map[string]*string {
	configs := map[string]*string{}
	set := func(k, v string) { configs[k] = &v }
	if t.LargeRecords {
		set("max.message.bytes", strconv.Itoa(MaxRecordBytes))
	}
	if t.Retention > 0 {
		set("retention.ms", strconv.FormatInt(t.Retention.Milliseconds(), 10))
	}
	if t.Compact {
		set("cleanup.policy", "compact")
	}
	if replication >= minInsyncFrom {
		set("min.insync.replicas", minInsyncReplicas)
	}
	return configs
}

// EnsureTopics creates the topics that do not exist yet, with cfg's partitions
// and replication and each topic's settings; with a replication factor of 3 or
// more (asked for, or the broker's default) they get min.insync.replicas=2.
// "Already exists" is success and existing topics are left as they are; a
// cluster that refuses creation (authorization, policy) is logged and
// tolerated, since an operator may provision topics by hand. Other errors,
// such as an unreachable cluster, are returned.
func EnsureTopics(ctx context.Context, client *kgo.Client, cfg Config, logger *slog.Logger, topics ...Topic) error {
	if !cfg.CreateTopics {
		return nil
	}
	adm := kadm.NewClient(client)
	for _, t := range topics {
		r, err := adm.CreateTopic(ctx, cfg.TopicPartitions, cfg.TopicReplication, topicConfigs(t, cfg.TopicReplication), t.Name)
		if err == nil {
			err = r.Err
		}
		if err == nil && cfg.TopicReplication < 0 && r.ReplicationFactor >= minInsyncFrom {
			// The broker's default replication is 3 or more: set what
			// creating with an explicit factor would have.
			err = setMinInsync(ctx, adm, t.Name)
		}
		switch {
		case err == nil:
			logger.Info("created topic", "topic", t.Name, "partitions", r.NumPartitions, "replication", r.ReplicationFactor)
		case errors.Is(err, kerr.TopicAlreadyExists):
		case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
			errors.Is(err, kerr.PolicyViolation):
			logger.Warn("could not create topic; expecting it to exist", "topic", t.Name, "err", err, "detail", r.ErrMessage)
		default:
			return fmt.Errorf("creating topic %s: %w", t.Name, err)
		}
	}
	return nil
}

func setMinInsync(ctx context.Context, adm *kadm.Client, topic string) error {
	v := minInsyncReplicas
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: &v}}, topic)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		return fmt.Errorf("setting min.insync.replicas: %w", err)
	}
	return nil
}

// EnsureTopicsRetrying is EnsureTopics retried with capped exponential backoff
// until it succeeds or ctx ends, for services that must start while Kafka is
// still coming up. It returns ctx's error when ctx ends first.
func EnsureTopicsRetrying(ctx context.Context, client *kgo.Client, cfg Config, logger *slog.Logger, topics ...Topic) error {
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := EnsureTopics(attemptCtx, client, cfg, logger, topics...)
		cancel()
		if err == nil {
			return nil
		}
		wait := retry.Next()
		logger.Warn("kafka not reachable yet; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}
