package main

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/derive"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/eventcodec"
)

// BenchmarkEnrichVsDecodeEncode measures, in the same run, events per second
// through decode and encode alone on one goroutine (the CPU limit: enrich
// processes a transaction's records on one goroutine) and through enrich end
// to end on an in-process kfake: raw records consumed read_committed, events
// and offsets committed in transactions. Run it with -benchtime 1x: each
// iteration is a whole traffic plan.
func BenchmarkEnrichVsDecodeEncode(b *testing.B) {
	plan, err := traffic.NewPlan(traffic.Options{Seed: 7, Participants: 40000, MaxItemsPerBody: 100, RedeliveryFraction: -1, BadPayloads: -1})
	if err != nil {
		b.Fatal(err)
	}
	var bodies [][]byte
	for _, w := range plan.Webhooks() {
		bodies = append(bodies, w.Body)
	}
	wantEvents := plan.Expected().TotalEvents
	codec, err := eventcodec.NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	proc := &derive.Processor{Codec: codec, EventsTopic: eventsTopic, DLQTopic: dlqTopic}

	var limit, endToEnd float64
	for range b.N {
		start := time.Now()
		events := 0
		for i, body := range bodies {
			o := proc.Process(&kgo.Record{Value: body, Offset: int64(i), Timestamp: start})
			events += len(o.Events)
		}
		limit = float64(events) / time.Since(start).Seconds()
		if events != wantEvents {
			b.Fatalf("decode and encode made %d events, the plan says %d", events, wantEvents)
		}

		brokers := kafkatest.Brokers(b)
		produceRaw(b, brokers, bodies)
		url := startEnrich(b, brokers, map[string]string{"LOG_LEVEL": "error"})
		start = time.Now()
		for testenv.Metric(testenv.Scrape(b, url), "reftrail_enrich_records_consumed_total") < float64(len(bodies)) {
			time.Sleep(10 * time.Millisecond)
		}
		endToEnd = float64(wantEvents) / time.Since(start).Seconds()
		if got := testenv.Metric(testenv.Scrape(b, url), "reftrail_enrich_events_produced_total"); got != float64(wantEvents) {
			b.Fatalf("enrich produced %v events, the plan says %d", got, wantEvents)
		}
	}
	b.ReportMetric(float64(wantEvents), "events")
	b.ReportMetric(limit, "decode_encode_events/s")
	b.ReportMetric(endToEnd, "enrich_events/s")
	b.ReportMetric(endToEnd/limit, "ratio")
}
