package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/kafka"
)

// TestReplayCommand runs replay raw and replay dlq --dry-run through run on
// kfake: the flags, the environment and the summaries.
func TestReplayCommand(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	at := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC)
	body := `{"object":"page","entry":[{"id":"106","time":1763700000000,"messaging":[` +
		`{"sender":{"id":"24"},"recipient":{"id":"106"},"timestamp":1763700000000,"referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"}}]}]}`
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(context.Background(), cl, kafka.Config{CreateTopics: true, TopicPartitions: 2, TopicReplication: -1}, slog.New(slog.DiscardHandler),
		kafka.Topic{Name: kafka.DefaultRawTopic}, kafka.Topic{Name: kafka.DefaultEventsTopic}, kafka.Topic{Name: kafka.DefaultDLQTopic}); err != nil {
		t.Fatal(err)
	}
	recs := []*kgo.Record{
		{Topic: kafka.DefaultRawTopic, Value: []byte(body), Timestamp: at},
		{Topic: kafka.DefaultRawTopic, Value: []byte("{"), Timestamp: at.Add(time.Minute)},
		{Topic: kafka.DefaultRawTopic, Value: []byte(body), Timestamp: at.Add(48 * time.Hour)},
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KAFKA_BROKERS": strings.Join(brokers, ",")}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "raw, one day", args: []string{"replay", "raw", "--from", "2025-11-20", "--to", "2025-11-20"},
			want: "replay raw 2025-11-20T00:00:00Z .. 2025-11-21T00:00:00Z: 2 raw records read, 1 events produced to reftrail.events.v1, 1 dead letters to meta.webhooks.dlq\n"},
		{name: "dlq, dry", args: []string{"replay", "dlq", "--dry-run"},
			want: "replay dlq: 1 dead letters read, 1 would be sent back to meta.webhooks.raw\n  invalid_json             1\n"},
		{name: "raw without a period", args: []string{"replay", "raw", "--from", "7d"}, wantErr: "replay raw needs --from and --to"},
		{name: "reversed", args: []string{"replay", "raw", "--from", "2025-11-21", "--to", "2025-11-20"},
			wantErr: "--from 2025-11-21T00:00:00Z is not before --to 2025-11-21T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, progress bytes.Buffer
			err := run(context.Background(), tt.args, getenv, &out, &progress)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("run = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run = %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("printed %q, want %q", out.String(), tt.want)
			}
			if progress.Len() == 0 {
				t.Error("no progress line")
			}
		})
	}
}
