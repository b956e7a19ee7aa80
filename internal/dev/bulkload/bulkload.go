// Package bulkload fills ClickHouse with millions of demo events, fast, for
// benchmarks of the read paths: it plans traffic with internal/dev/traffic
// (the demo's stories, batching and redeliveries), decodes each webhook body
// with the real decoder, and writes the events straight with
// chstore.InsertEvents, skipping Kafka, ingest, enrich and sink.
//
// The data has what production data has: referrals in every arrival form,
// conversations, ads, opt-ins, redelivered bodies (duplicate event ids with a
// later receipt) and dead letters. Loading is deterministic but for
// inserted_at: the same Options give the same events.
package bulkload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// Options select what Load writes. Zero fields take the defaults.
type Options struct {
	// Events is how many event rows to write, redeliveries included; Load
	// stops at the first batch boundary at or past it. Default 1,000,000.
	Events int
	// Seed selects the plans; chunk i uses Seed+i.
	Seed uint64
	// End is when the first referrals end: they are spread over
	// [End-Span, End), and what follows them runs up to three weeks past End.
	// Default traffic.DefaultStart plus 90 days.
	End time.Time
	// Span is the period of the first referrals. Default 90 days.
	Span time.Duration
	// BatchRows is the rows per INSERT. Default 50,000 (the sink's batch for
	// catching up a backlog).
	BatchRows int
}

// Stats is what Load wrote.
type Stats struct {
	Events, DeadLetters, Participants int
	Elapsed                           time.Duration
}

// participantsPerChunk is the size of one plan: about 100,000 events, which
// traffic plans in well under a second.
const participantsPerChunk = 36000

// rawTopic names the raw records of dead letters.
const rawTopic = "meta.webhooks.raw"

func (o Options) withDefaults() (Options, error) {
	if o.Events == 0 {
		o.Events = 1_000_000
	}
	if o.Span == 0 {
		o.Span = 90 * 24 * time.Hour
	}
	if o.End.IsZero() {
		o.End = traffic.DefaultStart.Add(o.Span)
	}
	if o.BatchRows == 0 {
		o.BatchRows = 50_000
	}
	if o.Events < 0 || o.BatchRows < 0 || o.Span < time.Hour {
		return o, fmt.Errorf("bulk load: events %d and batch rows %d must be positive, span %v at least an hour", o.Events, o.BatchRows, o.Span)
	}
	return o, nil
}

// chunks returns how many plans Load may use for o: the first referrals of
// plan i fall in the i-th equal slice of the span, so that the rate is even.
// A plan yields about 2.8 events per participant; counting 2.6 leaves room,
// and Load stops when it has written enough, so the last slices of the span
// may stay empty.
func chunks(o Options) int {
	return o.Events/(participantsPerChunk*26/10) + 1
}

// Load writes opts.Events events (and the plans' dead letters) through store,
// calling progress, when not nil, after each insert with the events written
// so far.
func Load(ctx context.Context, store *chstore.Store, opts Options, progress func(events int)) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	began := time.Now()
	var (
		st     Stats
		batch  = make([]event.Event, 0, opts.BatchRows)
		dead   []chstore.DeadLetter
		offset int64
	)
	flush := func() error {
		if len(batch) > 0 {
			if err := store.InsertEvents(ctx, batch, time.Now()); err != nil {
				return err
			}
			st.Events += len(batch)
			batch = batch[:0]
			if progress != nil {
				progress(st.Events)
			}
		}
		if len(dead) > 0 {
			if err := store.InsertDeadLetters(ctx, dead, time.Now()); err != nil {
				return err
			}
			st.DeadLetters += len(dead)
			dead = dead[:0]
		}
		return nil
	}
	n := chunks(opts)
	slice := opts.Span / time.Duration(n)
	start := opts.End.Add(-opts.Span)
	for i := 0; i < n && st.Events < opts.Events; i++ {
		plan, err := traffic.NewPlan(traffic.Options{
			Seed: opts.Seed + uint64(i), Participants: participantsPerChunk,
			Start: start.Add(time.Duration(i) * slice), Span: slice,
		})
		if err != nil {
			return st, err
		}
		st.Participants += participantsPerChunk
		for _, w := range plan.Webhooks() {
			offset++
			src := meta.Source{Partition: int32(offset % 12), Offset: offset}
			res, err := meta.Decode(w.Body, src)
			if w.DeadLetter != "" || err != nil || len(res.Bad) > 0 {
				reason := string(w.DeadLetter)
				var derr *meta.DecodeError
				switch {
				case errors.As(err, &derr):
					reason = string(derr.Reason)
				case len(res.Bad) > 0:
					reason = string(res.Bad[0].Reason)
				}
				dead = append(dead, chstore.DeadLetter{
					RawTopic: rawTopic, RawPartition: src.Partition, RawOffset: src.Offset,
					Reason: reason, Stage: "enrich", ReceivedTime: receivedTime(res.Events, start),
				})
			}
			for _, ev := range res.Events {
				// Ingest receives a body a few hundred ms after its events;
				// a redelivery a minute later.
				ev.ReceivedTime = ev.EventTime + 250 + offset%500
				if w.Redelivery {
					ev.ReceivedTime += 60_000
				}
				batch = append(batch, ev)
			}
			if len(batch) >= opts.BatchRows {
				if err := flush(); err != nil {
					return st, err
				}
				if st.Events >= opts.Events {
					break
				}
			}
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	st.Elapsed = time.Since(began)
	return st, nil
}

// receivedTime of a dead letter: after its good events, if any; the period's
// start for a body without any.
func receivedTime(evs []event.Event, start time.Time) int64 {
	t := start.UnixMilli()
	for _, e := range evs {
		t = max(t, e.EventTime+250)
	}
	return t
}
