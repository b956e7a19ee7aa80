package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
)

// TestIntegrationEnrichWithSchemaRegistry checks that with SCHEMA_REGISTRY_URL
// enrich registers the schema under <EVENTS_TOPIC>-value and writes the
// Confluent framing with the registered id, readable through the registry.
func TestIntegrationEnrichWithSchemaRegistry(t *testing.T) {
	registry := srfake.New()
	t.Cleanup(registry.Close)
	brokers := kafkatest.Brokers(t)
	startEnrich(t, brokers, map[string]string{"SCHEMA_REGISTRY_URL": registry.URL()})
	body, _, _ := streamPayloads(1, 100)
	produceRaw(t, brokers, body)

	client, err := sr.NewClient(sr.URLs(registry.URL()))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := client.SchemaByVersion(context.Background(), eventsTopic+"-value", -1)
	if err != nil {
		t.Fatalf("schema under %s-value: %v", eventsTopic, err)
	}
	dec, err := eventcodec.NewDecoder(client)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readCommitted(t, brokers, eventsTopic, 2, 200*time.Millisecond) {
		if r.Value[0] != 0 || int(r.Value[1])<<24|int(r.Value[2])<<16|int(r.Value[3])<<8|int(r.Value[4]) != subject.ID {
			t.Errorf("value starts % x, want 0x00 and schema id %d", r.Value[:5], subject.ID)
		}
		var e event.Event
		if err := dec.Decode(context.Background(), r.Value, &e); err != nil {
			t.Errorf("decoding through the registry: %v", err)
		}
	}
}
