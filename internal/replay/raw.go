package replay

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/derive"
)

// RawSummary is what a raw replay did.
type RawSummary struct {
	RecordsRead    int64
	EventsProduced int64
	DeadLetters    int64
}

// Raw reads the raw records of topic whose Kafka timestamps fall in period
// (ingest's producer stamps a record when it accepts the POST), derives them
// with proc exactly as enrich does, and produces their events and dead letters
// in one transaction per batch. The events keep their event ids, so ClickHouse
// absorbs the copies of events it already holds.
func Raw(ctx context.Context, cfg Config, topic string, period Period, proc *derive.Processor) (RawSummary, error) {
	var sum RawSummary
	spans, err := listSpans(ctx, cfg, topic, period)
	if err != nil {
		return sum, err
	}
	r, err := newClient(cfg, topic, spans)
	if err != nil {
		return sum, err
	}
	defer r.client.Close()
	for {
		raws, err := r.poll(ctx, cfg.batch())
		if err != nil {
			return sum, err
		}
		if len(raws) == 0 {
			return sum, nil
		}
		var out []*kgo.Record
		var events, dead int64
		for _, raw := range raws {
			o := proc.Process(raw)
			out = append(out, o.Records...)
			events += int64(len(o.Events))
			if o.DLQ != "" {
				dead++
			}
		}
		if err := commit(ctx, r.client, out); err != nil {
			return sum, fmt.Errorf("replaying %d raw records from %s/%d offset %d: %w", len(raws), topic, raws[0].Partition, raws[0].Offset, err)
		}
		sum.RecordsRead += int64(len(raws))
		sum.EventsProduced += events
		sum.DeadLetters += dead
		cfg.progress("replayed %d raw records of up to %d: %d events, %d dead letters", sum.RecordsRead, r.total, sum.EventsProduced, sum.DeadLetters)
	}
}

// listSpans finds period's offsets in topic with a plain client.
func listSpans(ctx context.Context, cfg Config, topic string, period Period) (map[int32]span, error) {
	cl, err := newAdminClient(cfg)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return offsetsFor(ctx, kadm.NewClient(cl), topic, period)
}
