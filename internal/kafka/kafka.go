// Package kafka builds reftrail's franz-go clients from configuration: brokers,
// TLS, SASL, logging through kslog and metrics through kprom, and creates the
// topics a service needs at start-up.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// KAFKA_SASL_PASSWORD. PLAIN sends the password as is: use it only with TLS.
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
}

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
		SASLPassword:     env.String("KAFKA_SASL_PASSWORD", ""),
		CreateTopics:     env.Bool("KAFKA_CREATE_TOPICS", true),
		TopicPartitions:  int32(env.Int("TOPIC_PARTITIONS", 6, 1, 10000)),
		TopicReplication: int16(env.Int("TOPIC_REPLICATION_FACTOR", -1, -1, 32)),
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
	return c
}

// NewClient returns a client for cfg logging through logger and registering
// kprom metrics named reftrail_<service>_... in reg, plus the service's own
// options. TLS files are read here, so a bad path fails at start-up.
func NewClient(cfg Config, service string, logger *slog.Logger, reg prometheus.Registerer, opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("reftrail-" + service),
		kgo.WithLogger(kslog.New(logger.With("component", "kafka"))),
		kgo.WithHooks(kprom.NewMetrics("reftrail_"+service, kprom.Registerer(reg))),
	}
	if cfg.TLS {
		tc, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		base = append(base, kgo.DialTLSConfig(tc))
	}
	if m := saslMechanism(cfg); m != nil {
		base = append(base, kgo.SASL(m))
	}
	client, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return client, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading KAFKA_TLS_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading KAFKA_TLS_CA_FILE %s: no PEM certificate found", cfg.TLSCAFile)
		}
		tc.RootCAs = pool
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
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

// EnsureTopics creates the topics that do not exist yet, with cfg's partitions
// and replication. "Already exists" is success; a cluster that refuses creation
// (authorization, or topic creation disabled) is logged and tolerated, since an
// operator may provision topics by hand. Other errors, such as an unreachable
// cluster, are returned.
func EnsureTopics(ctx context.Context, client *kgo.Client, cfg Config, logger *slog.Logger, topics ...string) error {
	if !cfg.CreateTopics {
		return nil
	}
	resps, err := kadm.NewClient(client).CreateTopics(ctx, cfg.TopicPartitions, cfg.TopicReplication, nil, topics...)
	if err != nil {
		if errors.Is(err, kerr.ClusterAuthorizationFailed) {
			logger.Warn("not allowed to create topics; expecting them to exist", "topics", topics)
			return nil
		}
		return fmt.Errorf("creating topics %v: %w", topics, err)
	}
	for _, r := range resps.Sorted() {
		switch {
		case r.Err == nil:
			logger.Info("created topic", "topic", r.Topic, "partitions", r.NumPartitions, "replication", r.ReplicationFactor)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		case errors.Is(r.Err, kerr.TopicAuthorizationFailed), errors.Is(r.Err, kerr.ClusterAuthorizationFailed),
			errors.Is(r.Err, kerr.PolicyViolation):
			logger.Warn("could not create topic; expecting it to exist", "topic", r.Topic, "err", r.Err, "detail", r.ErrMessage)
		default:
			return fmt.Errorf("creating topic %s: %w (%s)", r.Topic, r.Err, r.ErrMessage)
		}
	}
	return nil
}

// EnsureTopicsRetrying is EnsureTopics retried with capped exponential backoff
// until it succeeds or ctx ends, for services that must start while Kafka is
// still coming up. It returns ctx's error when ctx ends first.
func EnsureTopicsRetrying(ctx context.Context, client *kgo.Client, cfg Config, logger *slog.Logger, topics ...string) error {
	backoff := 100 * time.Millisecond
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := EnsureTopics(attemptCtx, client, cfg, logger, topics...)
		cancel()
		if err == nil {
			return nil
		}
		logger.Warn("kafka not reachable yet; retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
