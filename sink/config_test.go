package main

import (
	"context"
	"io"
	"testing"
)

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "batch rows zero", env: map[string]string{"BATCH_ROWS": "0"}, want: `setting BATCH_ROWS="0": must be between 1 and 1000000`},
		{name: "batch rows not a number", env: map[string]string{"BATCH_ROWS": "10k"}, want: `setting BATCH_ROWS="10k": not an integer`},
		{name: "flush interval unit", env: map[string]string{"FLUSH_INTERVAL": "5"}, want: `setting FLUSH_INTERVAL="5": not a Go duration such as 500ms or 3s`},
		{name: "flush interval too short", env: map[string]string{"FLUSH_INTERVAL": "10us"}, want: `setting FLUSH_INTERVAL="10us": must be between 1ms and 24h0m0s`},
		{name: "same topics", env: map[string]string{"DLQ_TOPIC": "reftrail.events.v1"}, want: `setting DLQ_TOPIC="reftrail.events.v1": must differ from EVENTS_TOPIC`},
		{name: "raw topic is the dlq", env: map[string]string{"RAW_TOPIC": "meta.webhooks.dlq"}, want: `setting RAW_TOPIC="meta.webhooks.dlq": must differ from DLQ_TOPIC`},
		{name: "clickhouse addr without port", env: map[string]string{"CLICKHOUSE_ADDR": "clickhouse"}, want: `setting CLICKHOUSE_ADDR="clickhouse": must be host:port of the native protocol (usually port 9000)`},
		{name: "database name", env: map[string]string{"CLICKHOUSE_DATABASE": "reftrail-prod"}, want: `setting CLICKHOUSE_DATABASE="reftrail-prod": must be letters, digits and underscores, not starting with a digit`},
		{name: "cluster name", env: map[string]string{"CLICKHOUSE_CLUSTER": "my cluster"}, want: `setting CLICKHOUSE_CLUSTER="my cluster": must be letters, digits and underscores, not starting with a digit`},
		{name: "registry url", env: map[string]string{"SCHEMA_REGISTRY_URL": "registry:8081"}, want: `setting SCHEMA_REGISTRY_URL="registry:8081": must be an http:// or https:// URL`},
		{name: "log level", env: map[string]string{"LOG_LEVEL": "loud"}, want: `setting LOG_LEVEL="loud": must be one of debug, info, warn, error`},
		{name: "kafka sasl", env: map[string]string{"KAFKA_SASL_MECHANISM": "PLAIN"}, want: `setting KAFKA_SASL_MECHANISM="PLAIN": needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), nil, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Errorf("run = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRunRejectsUnknownFlag(t *testing.T) {
	err := run(context.Background(), []string{"-migrat"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || err.Error() != "flag provided but not defined: -migrat" {
		t.Errorf("run = %v, want the unknown flag named", err)
	}
}
