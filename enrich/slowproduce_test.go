package main

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
)

// TestIntegrationSlowProduceKeepsEvents delays every produce request that
// writes to one partition of the events topic, as a slow broker or a leader
// election during a backlog would: franz-go then grows that partition's batch
// while the request is in flight. The events topic's max.message.bytes is
// lowered (to 32 KiB, so that this test's small transactions reach it; in
// production it is the broker's 1 MB), and enrich must size its batches from
// it. Before, enrich used 16 MiB batches for every topic, the broker refused
// whole batches as too large, and enrich dead-lettered valid payloads as
// record_too_large.
func TestIntegrationSlowProduceKeepsEvents(t *testing.T) {
	plan, err := traffic.NewPlan(traffic.Options{Seed: 11, Participants: 4000, MaxItemsPerBody: 1000, RedeliveryFraction: -1, BadPayloads: -1})
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, w := range plan.Webhooks() {
		bodies = append(bodies, w.Body)
	}
	want := plan.Expected().TotalEvents

	cluster := kafkatest.NewFake(t)
	brokers := cluster.ListenAddrs()
	produceRaw(t, brokers, bodies)
	eventsID := topicID(t, brokers, eventsTopic)
	setTopicConfig(t, brokers, eventsTopic, "max.message.bytes", "32768")
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			// Produce v13 names topics by id only.
			if topic.Topic != eventsTopic && topic.TopicID != eventsID {
				continue
			}
			for _, p := range topic.Partitions {
				if p.Partition == 0 {
					cluster.SleepControl(func() { time.Sleep(100 * time.Millisecond) })
					return nil, nil, false
				}
			}
		}
		return nil, nil, false
	})
	url := startEnrich(t, brokers, map[string]string{"LOG_LEVEL": "error"})

	deadline := time.Now().Add(4 * time.Minute)
	for testenv.Metric(testenv.Scrape(t, url), "reftrail_enrich_records_consumed_total") < float64(len(bodies)) {
		if time.Now().After(deadline) {
			t.Fatalf("enrich consumed %v of %d raw records in 4 minutes", testenv.Metric(testenv.Scrape(t, url), "reftrail_enrich_records_consumed_total"), len(bodies))
		}
		time.Sleep(50 * time.Millisecond)
	}
	metrics := testenv.Scrape(t, url)
	if got := testenv.Metric(metrics, "reftrail_enrich_dlq_records_total"); got != 0 {
		t.Errorf("enrich dead-lettered %v valid payloads, want 0", got)
	}
	if got := len(readCommitted(t, brokers, eventsTopic, want, 500*time.Millisecond)); got != want {
		t.Errorf("events topic holds %d committed events, want %d", got, want)
	}
}

// setTopicConfig sets one configuration of topic, as an operator would.
func setTopicConfig(t testing.TB, brokers []string, topic, name, value string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rs, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Name: name, Value: &value}}, topic)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		t.Fatalf("setting %s of %s: %v", name, topic, err)
	}
}

// topicID returns the id Kafka gave topic.
func topicID(t testing.TB, brokers []string, topic string) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return details[topic].ID
}
