package main

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
)

// TestIntegrationTransactionShrinksAfterTimeout makes the events topic slow
// in proportion to what is produced (1 ms per 100 bytes), so that the first
// transactions, of up to 1,000 raw records, cannot finish within
// ENRICH_TRANSACTION_TIMEOUT. enrich must abort them and shrink the next
// transaction until one fits, and so get through the backlog. Before, it
// polled as many records again after each abort and never committed.
func TestIntegrationTransactionShrinksAfterTimeout(t *testing.T) {
	plan, err := traffic.NewPlan(traffic.Options{Seed: 5, Participants: 2000, MaxItemsPerBody: 100, RedeliveryFraction: -1, BadPayloads: -1})
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
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		bytes := 0
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			if topic.Topic == eventsTopic || topic.TopicID == eventsID {
				for _, p := range topic.Partitions {
					bytes += len(p.Records)
				}
			}
		}
		if bytes > 0 {
			cluster.SleepControl(func() { time.Sleep(time.Duration(bytes/100) * time.Millisecond) })
		}
		return nil, nil, false
	})
	url := startEnrich(t, brokers, map[string]string{"LOG_LEVEL": "error", "ENRICH_TRANSACTION_TIMEOUT": "1s"})

	deadline := time.Now().Add(4 * time.Minute)
	for testenv.Metric(testenv.Scrape(t, url), "reftrail_enrich_records_consumed_total") < float64(len(bodies)) {
		if time.Now().After(deadline) {
			m := testenv.Scrape(t, url)
			t.Fatalf("enrich consumed %v of %d raw records in 4 minutes (%v transactions aborted)", testenv.Metric(m, "reftrail_enrich_records_consumed_total"), len(bodies), testenv.Metric(m, "reftrail_enrich_transactions_aborted_total"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := testenv.Metric(testenv.Scrape(t, url), "reftrail_enrich_transactions_aborted_total"); got == 0 {
		t.Errorf("no transaction aborted: the test's produce latency did not reach the timeout")
	}
	if got := len(readCommitted(t, brokers, eventsTopic, want, 500*time.Millisecond)); got != want {
		t.Errorf("events topic holds %d committed events, want %d", got, want)
	}
}
