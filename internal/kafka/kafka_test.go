package kafka

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{
			name: "defaults",
			want: Config{Brokers: []string{"127.0.0.1:9092"}, CreateTopics: true, TopicPartitions: 6, TopicReplication: -1,
				RawRetention: 168 * time.Hour, DLQRetention: 168 * time.Hour},
		},
		{
			name: "a CA file implies TLS; SCRAM",
			env: map[string]string{"KAFKA_BROKERS": "b1:9093, b2:9093", "KAFKA_TLS_CA_FILE": "/etc/ca.pem",
				"KAFKA_SASL_MECHANISM": "scram-sha-512", "KAFKA_SASL_USERNAME": "reftrail", "KAFKA_SASL_PASSWORD": "pw",
				"TOPIC_PARTITIONS": "12", "TOPIC_REPLICATION_FACTOR": "3", "KAFKA_CREATE_TOPICS": "false",
				"RAW_RETENTION": "72h", "DLQ_RETENTION": "720h"},
			want: Config{Brokers: []string{"b1:9093", "b2:9093"}, TLS: true, TLSCAFile: "/etc/ca.pem",
				SASLMechanism: "SCRAM-SHA-512", SASLUsername: "reftrail", SASLPassword: "pw",
				TopicPartitions: 12, TopicReplication: 3, RawRetention: 72 * time.Hour, DLQRetention: 720 * time.Hour},
		},
		{name: "key without cert", env: map[string]string{"KAFKA_TLS_KEY_FILE": "/k.pem"}, wantErr: "setting KAFKA_TLS_CERT_FILE: KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together"},
		{name: "unknown mechanism", env: map[string]string{"KAFKA_SASL_MECHANISM": "GSSAPI"}, wantErr: `setting KAFKA_SASL_MECHANISM="GSSAPI": must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512`},
		{name: "user without mechanism", env: map[string]string{"KAFKA_SASL_USERNAME": "u"}, wantErr: `setting KAFKA_SASL_USERNAME="u": set, but KAFKA_SASL_MECHANISM is not`},
		{name: "PLAIN without TLS", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "pw"},
			wantErr: `setting KAFKA_SASL_MECHANISM="PLAIN": PLAIN sends the password in clear text: set KAFKA_TLS=true, or KAFKA_SASL_PLAIN_WITHOUT_TLS=true on a network you trust`},
		{
			name: "PLAIN with TLS",
			env:  map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "pw", "KAFKA_TLS": "true"},
			want: Config{Brokers: []string{"127.0.0.1:9092"}, TLS: true, SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "pw",
				CreateTopics: true, TopicPartitions: 6, TopicReplication: -1, RawRetention: 168 * time.Hour, DLQRetention: 168 * time.Hour},
		},
		{
			name: "PLAIN without TLS, explicitly allowed",
			env:  map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "pw", "KAFKA_SASL_PLAIN_WITHOUT_TLS": "true"},
			want: Config{Brokers: []string{"127.0.0.1:9092"}, SASLMechanism: "PLAIN", SASLUsername: "u", SASLPassword: "pw",
				CreateTopics: true, TopicPartitions: 6, TopicReplication: -1, RawRetention: 168 * time.Hour, DLQRetention: 168 * time.Hour},
		},
		{name: "retention too short", env: map[string]string{"DLQ_RETENTION": "1m"}, wantErr: `setting DLQ_RETENTION="1m": must be between 1h0m0s and 8760h0m0s`},
		{name: "zero partitions", env: map[string]string{"TOPIC_PARTITIONS": "0"}, wantErr: `setting TOPIC_PARTITIONS="0": must be between 1 and 10000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.NewEnv(func(k string) string { return tt.env[k] })
			got := ConfigFromEnv(env)
			if tt.wantErr != "" {
				if err := env.Err(); err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err := env.Err(); err != nil {
				t.Fatalf("Err = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewClientFailsOnUnreadableTLSFiles(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "missing CA file", cfg: Config{TLS: true, TLSCAFile: "/nonexistent/ca.pem"}, want: "reading KAFKA_TLS_CA_FILE"},
		{name: "CA file without PEM", cfg: Config{TLS: true, TLSCAFile: notPEM}, want: "no PEM certificate found"},
		{name: "missing key pair", cfg: Config{TLS: true, TLSCertFile: "/nonexistent/c.pem", TLSKeyFile: "/nonexistent/k.pem"}, want: "loading KAFKA_TLS_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Brokers = []string{"127.0.0.1:1"}
			_, err := NewClient(tt.cfg, "test", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEnsureTopics(t *testing.T) {
	cluster := kafkatest.NewFake(t)
	cfg := Config{Brokers: cluster.ListenAddrs(), CreateTopics: true, TopicPartitions: 3, TopicReplication: -1}
	client, err := NewClient(cfg, "test", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	topics := []Topic{{Name: "raw", LargeRecords: true}, {Name: "events"}}

	if err := EnsureTopics(ctx, client, cfg, logger, topics...); err != nil {
		t.Fatalf("first EnsureTopics = %v", err)
	}
	if err := EnsureTopics(ctx, client, cfg, logger, topics...); err != nil {
		t.Fatalf("EnsureTopics on existing topics = %v, want nil", err)
	}
	adm := kadm.NewClient(client)
	details, err := adm.ListTopics(ctx, "raw", "events")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"raw", "events"} {
		if got := len(details[name].Partitions); got != 3 {
			t.Errorf("%s has %d partitions, want 3", name, got)
		}
	}
	configs, err := adm.DescribeTopicConfigs(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	maxBytes, err := configs.On("raw", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range maxBytes.Configs {
		if c.Key == "max.message.bytes" && c.MaybeValue() == "16777216" {
			found = true
		}
	}
	if !found {
		t.Errorf("raw topic lacks max.message.bytes=16777216: %+v", maxBytes.Configs)
	}

	t.Run("creation refused is tolerated", func(t *testing.T) {
		fault := cluster.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Err: kerr.TopicAuthorizationFailed, Count: -1})
		defer fault.Remove()
		if err := EnsureTopics(ctx, client, cfg, logger, Topic{Name: "forbidden"}); err != nil {
			t.Errorf("EnsureTopics = %v, want nil when the cluster forbids creation", err)
		}
		if fault.Hits() == 0 {
			t.Error("the refusal was never sent")
		}
	})
	t.Run("other errors are returned", func(t *testing.T) {
		bad := cfg
		bad.TopicReplication = 5 // one broker
		err := EnsureTopics(ctx, client, bad, logger, Topic{Name: "unreplicable"})
		if !errors.Is(err, kerr.InvalidReplicationFactor) {
			t.Errorf("EnsureTopics = %v, want INVALID_REPLICATION_FACTOR", err)
		}
	})
	t.Run("creation off", func(t *testing.T) {
		off := cfg
		off.CreateTopics = false
		if err := EnsureTopics(ctx, client, off, logger, Topic{Name: "never"}); err != nil {
			t.Fatal(err)
		}
		details, err := adm.ListTopics(ctx, "never")
		if err != nil {
			t.Fatal(err)
		}
		if details.Has("never") {
			t.Error("topic created with KAFKA_CREATE_TOPICS=false")
		}
	})
}

// topicConfig returns the value of one configuration of topic.
func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue()
		}
	}
	return ""
}

// TestEnsureTopicsConfigs checks the configurations topics are created with:
// retention for the raw and DLQ topics, and min.insync.replicas=2 once there
// are three replicas, so that acks=all means two copies.
func TestEnsureTopicsConfigs(t *testing.T) {
	cluster := kafkatest.NewFake(t, kfake.NumBrokers(3))
	logger := slog.New(slog.DiscardHandler)
	tests := []struct {
		name        string
		replication int16
		topic       func(Config) Topic
		want        map[string]string
	}{
		{name: "raw, three replicas", replication: 3, topic: func(c Config) Topic { return RawTopic(c, "raw3") },
			want: map[string]string{"min.insync.replicas": "2", "retention.ms": "259200000", "max.message.bytes": "16777216"}},
		{name: "dlq, three replicas", replication: 3, topic: func(c Config) Topic { return DLQTopic(c, "dlq3") },
			want: map[string]string{"min.insync.replicas": "2", "retention.ms": "604800000", "max.message.bytes": "16777216"}},
		{name: "events, three replicas", replication: 3, topic: func(Config) Topic { return Topic{Name: "events3"} },
			want: map[string]string{"min.insync.replicas": "2"}},
		{name: "events, two replicas", replication: 2, topic: func(Config) Topic { return Topic{Name: "events2"} },
			want: map[string]string{"min.insync.replicas": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Brokers: cluster.ListenAddrs(), CreateTopics: true, TopicPartitions: 1, TopicReplication: tt.replication,
				RawRetention: 72 * time.Hour, DLQRetention: 168 * time.Hour}
			client, err := NewClient(cfg, "test", logger, prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			topic := tt.topic(cfg)
			if err := EnsureTopics(context.Background(), client, cfg, logger, topic); err != nil {
				t.Fatal(err)
			}
			adm := kadm.NewClient(client)
			for key, want := range tt.want {
				if got := topicConfig(t, adm, topic.Name, key); got != want {
					t.Errorf("%s %s = %q, want %q", topic.Name, key, got, want)
				}
			}
		})
	}
}

// TestProducerLimits checks that batches are sized from each topic's real
// max.message.bytes, read from the cluster, and that a topic met before its
// limit was read is sized again once it is.
func TestProducerLimits(t *testing.T) {
	cluster := kafkatest.NewFake(t)
	logger := slog.New(slog.DiscardHandler)
	cfg := Config{Brokers: cluster.ListenAddrs(), CreateTopics: true, TopicPartitions: 1, TopicReplication: -1}
	limits := NewProducerLimits()
	client, err := NewClient(cfg, "test", logger, prometheus.NewRegistry(), limits.Opt())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	if err := EnsureTopics(ctx, client, cfg, logger, Topic{Name: "small"}, Topic{Name: "large", LargeRecords: true}); err != nil {
		t.Fatal(err)
	}
	small := "65536"
	rs, err := kadm.NewClient(client).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &small}}, "small")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("lowering max.message.bytes: %v %v", err, rs)
	}

	// Met before Load: the default, which a 2 MB record is over.
	big := &kgo.Record{Topic: "large", Value: make([]byte, 2<<20)}
	if err := client.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("producing 2 MB before Load = %v, want MESSAGE_TOO_LARGE", err)
	}
	if err := limits.Load(ctx, client, "small", "large"); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int32{"small": 65536, "large": MaxRecordBytes} {
		if got := limits.Limit(topic); got != want {
			t.Errorf("Limit(%s) = %d, want %d", topic, got, want)
		}
	}
	if err := client.ProduceSync(ctx, big).FirstErr(); err != nil {
		t.Errorf("producing 2 MB after Load = %v, want the large topic's limit used", err)
	}

	// Many small records produced at once fill batches up to the small
	// topic's limit, not past it: the broker takes them all.
	recs := make([]*kgo.Record, 400)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "small", Value: make([]byte, 1000)}
	}
	if err := client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Errorf("producing 400 KB in 1 KB records to a 64 KiB topic = %v", err)
	}

	for _, tt := range []struct {
		name string
		r    *kgo.Record
		want bool
	}{
		{name: "well under", r: &kgo.Record{Topic: "small", Value: make([]byte, 1000)}, want: true},
		{name: "at the limit with overhead", r: &kgo.Record{Topic: "small", Value: make([]byte, 65536-61)}, want: false},
		{name: "headers count", r: &kgo.Record{Topic: "small", Value: make([]byte, 60000), Headers: []kgo.RecordHeader{{Key: "k", Value: make([]byte, 6000)}}}, want: false},
	} {
		if got := limits.Fits(tt.r); got != tt.want {
			t.Errorf("%s: Fits = %v, want %v", tt.name, got, tt.want)
		}
	}
}
