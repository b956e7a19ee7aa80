package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/config"
)

func TestRequireDistinctTopics(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "defaults", env: nil},
		{name: "events is raw", env: map[string]string{"EVENTS_TOPIC": DefaultRawTopic}, want: `setting EVENTS_TOPIC="meta.webhooks.raw": must differ from RAW_TOPIC`},
		{name: "dlq is events", env: map[string]string{"DLQ_TOPIC": "x", "EVENTS_TOPIC": "x"}, want: `setting DLQ_TOPIC="x": must differ from EVENTS_TOPIC`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.NewEnv(func(k string) string { return tt.env[k] })
			RequireDistinctTopics(env,
				TopicSetting{Variable: "RAW_TOPIC", Topic: RawTopicFromEnv(env)},
				TopicSetting{Variable: "EVENTS_TOPIC", Topic: EventsTopicFromEnv(env)},
				TopicSetting{Variable: "DLQ_TOPIC", Topic: DLQTopicFromEnv(env)})
			got := ""
			if err := env.Err(); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReceivedAt(t *testing.T) {
	tests := []struct {
		name    string
		headers []kgo.RecordHeader
		want    int64
		wantOK  bool
	}{
		{name: "set", headers: []kgo.RecordHeader{{Key: HeaderRequestID, Value: []byte("r")}, {Key: HeaderReceivedAt, Value: []byte("1763700000000")}}, want: 1763700000000, wantOK: true},
		{name: "missing", headers: []kgo.RecordHeader{{Key: HeaderRequestID, Value: []byte("r")}}},
		{name: "not a number", headers: []kgo.RecordHeader{{Key: HeaderReceivedAt, Value: []byte("soon")}}},
		{name: "zero", headers: []kgo.RecordHeader{{Key: HeaderReceivedAt, Value: []byte("0")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ReceivedAt(tt.headers)
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Errorf("ReceivedAt = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
