package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
)

// batch is what the sink holds between polls: records polled but not yet
// written, and the rows decoded from them at flush time (kept to reuse their
// memory).
type batch struct {
	records []*kgo.Record
	bytes   int
	// since is when the oldest pending record was polled; the batch is due
	// FLUSH_INTERVAL later.
	since time.Time

	events      []event.Event
	eventRecs   []*kgo.Record // eventRecs[i] is the record events[i] came from
	deadLetters []chstore.DeadLetter
}

// consume is the loop: poll, add to the batch, and when the batch is full or
// old enough write it to ClickHouse, commit its offsets, and allow rebalances.
//
// Batching across polls: the rebalance block that BlockRebalanceOnPoll takes
// at each poll is released right after it (AllowRebalance), whether or not the
// batch was written, so the group never waits on the sink longer than one
// flush (bounded by insertTimeout and commitTimeout). Records of partitions
// revoked or lost while they wait in the batch are dropped uncommitted by
// dropPartitions: their new owner reads them again from the last commit, and
// ClickHouse collapses any copy already written. A flush runs only right after
// a poll, under the block, so it commits only partitions the sink still owns.
//
// ClickHouse down (or the schema registry, for an unseen schema id): the
// failed batch is kept whole, fetching is paused (so nothing more is buffered
// or polled), the sink reports not ready, and the loop polls with the retry's
// deadline: rebalances and heartbeats go on while it waits, and the next
// attempt runs under a fresh block. The first success resumes fetching.
//
// Shutdown (ctx cancelled) interrupts the poll but not a flush under way: an
// INSERT cut off on the client may still complete on the server, and writing
// the batch again at shutdown would store it twice. Every flush therefore runs
// under flushCtx, which ends shutdownTimeout after ctx: the flush under way
// and the last one share that budget.
func (s *sink) consume(ctx context.Context, cl *kgo.Client, store *chstore.Store) error {
	topics := []string{s.cfg.EventsTopic, s.cfg.DLQTopic}
	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	flushCtx, cancelFlushes := withGrace(ctx, shutdownTimeout)
	defer cancelFlushes()
	var retryAt time.Time // zero unless a failed batch waits
	for {
		pollCtx, cancel := s.pollContext(ctx, retryAt)
		fetches := cl.PollRecords(pollCtx, s.room())
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		s.add(fetches)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				s.logger.Warn("fetching", "topic", topic, "partition", partition, "err", err)
			}
		})
		if s.due(retryAt) {
			err := s.flush(flushCtx, cl, store)
			switch {
			case err != nil && ctx.Err() != nil:
				// Failed as shutdown began: the last flush below retries.
			case err != nil:
				s.metrics.insertRetries.Inc()
				if retryAt.IsZero() {
					cl.PauseFetchTopics(topics...)
					s.retrying.Store(true)
				}
				wait := retry.Next()
				s.logger.Warn("writing batch failed; keeping it and retrying", "err", err, "backoff", wait)
				retryAt = time.Now().Add(wait)
			case !retryAt.IsZero():
				cl.ResumeFetchTopics(topics...)
				s.retrying.Store(false)
				s.logger.Info("writing batches again")
				retryAt = time.Time{}
				retry.Reset()
			}
		}
		cl.AllowRebalance()
	}

	// Shut down: write and commit what is held (the last poll took the
	// rebalance block) in what is left of the grace period, then leave the
	// group. Whatever cannot be written in time stays uncommitted and is
	// read again by the next owner.
	retry.Reset()
	for {
		err := s.flush(flushCtx, cl, store)
		if err == nil {
			break
		}
		s.metrics.insertRetries.Inc()
		if !backoff.Sleep(flushCtx, retry.Next()) {
			s.logger.Error("writing the last batch at shutdown failed; its records stay uncommitted for the next owner", "err", err)
			break
		}
	}
	cl.CloseAllowingRebalance()
	return nil
}

// withGrace returns a context that is not cancelled with ctx but grace after
// it (or by the returned cancel).
func withGrace(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	graceCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		timer := time.AfterFunc(grace, cancel)
		context.AfterFunc(graceCtx, func() { timer.Stop() })
	})
	return graceCtx, func() {
		stop()
		cancel()
	}
}

// pollContext bounds the next poll by when the batch is due: the retry time
// of a failed batch, else FLUSH_INTERVAL after its oldest record.
func (s *sink) pollContext(ctx context.Context, retryAt time.Time) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !retryAt.IsZero():
		return context.WithDeadline(ctx, retryAt)
	case len(s.batch.records) > 0:
		return context.WithDeadline(ctx, s.batch.since.Add(s.cfg.FlushInterval))
	}
	return context.WithCancel(ctx)
}

// room is how many records the next poll may add without overfilling the
// batch. It is at least 1, since PollRecords reads 0 as no limit; a full batch
// is only polled while fetching is paused, and such polls return nothing.
func (s *sink) room() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.cfg.BatchRows-len(s.batch.records), 1)
}

// due reports whether the batch should be written now.
func (s *sink) due(retryAt time.Time) bool {
	if !retryAt.IsZero() {
		return !time.Now().Before(retryAt)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.batch
	return len(b.records) >= s.cfg.BatchRows || b.bytes >= maxBatchBytes ||
		(len(b.records) > 0 && time.Since(b.since) >= s.cfg.FlushInterval)
}

// add appends the polled records to the batch and records the lag.
func (s *sink) add(fetches kgo.Fetches) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.batch
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		n := len(p.Records)
		if n == 0 {
			return
		}
		if len(b.records) == 0 {
			b.since = time.Now()
		}
		for _, r := range p.Records {
			b.records = append(b.records, r)
			b.bytes += recordBytes(r)
		}
		s.metrics.lag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - p.Records[n-1].Offset - 1))
	})
}

func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// dropPartitions is the OnPartitionsRevoked and OnPartitionsLost callback. It
// runs only while the loop allows rebalances, never during a flush, and drops
// the waiting records of partitions that moved away, uncommitted: see consume.
func (s *sink) dropPartitions(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.batch
	before := len(b.records)
	b.records = slices.DeleteFunc(b.records, func(r *kgo.Record) bool {
		return slices.Contains(gone[r.Topic], r.Partition)
	})
	b.bytes = 0
	for _, r := range b.records {
		b.bytes += recordBytes(r)
	}
	for topic, partitions := range gone {
		for _, p := range partitions {
			s.metrics.lag.DeleteLabelValues(topic, strconv.Itoa(int(p)))
		}
	}
	if dropped := before - len(b.records); dropped > 0 {
		s.logger.Info("partitions moved away; their unwritten records are left to the new owner", "records", dropped)
	}
}

// flush writes the batch to ClickHouse (events, then dead letters) and
// commits the offsets of its records. On a transient error nothing is
// committed and the batch is kept whole for another attempt, which may write
// some rows twice; ClickHouse collapses them. Rows ClickHouse refuses for
// their data are isolated and dead-lettered (see isolate), so that one bad row
// never stalls every partition. A failed commit after the rows are written is
// only logged: the records come again, as duplicates.
func (s *sink) flush(ctx context.Context, cl *kgo.Client, store *chstore.Store) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.batch
	if len(b.records) == 0 {
		return nil
	}
	insertCtx, cancel := context.WithTimeout(ctx, insertTimeout)
	defer cancel()
	if err := s.decode(insertCtx); err != nil {
		return err
	}
	now := time.Now()
	if err := s.writeEvents(insertCtx, store, now); err != nil {
		return err
	}
	if err := s.writeDeadLetters(insertCtx, store, now); err != nil {
		return err
	}

	commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if err := cl.CommitRecords(commitCtx, lastPerPartition(b.records)...); err != nil {
		s.metrics.commitFailures.Inc()
		s.logger.Warn("committing offsets of a written batch failed; its records will come again", "err", err)
	}
	s.unknownSchemaSince = time.Time{}
	s.metrics.batchRows.Observe(float64(len(b.records)))
	for i := range b.deadLetters {
		s.metrics.deadLetters.WithLabelValues(reasonLabel(b.deadLetters[i].Reason)).Inc()
	}
	// Clear, not just truncate, so the written records and rows are not
	// kept alive by the reused arrays.
	clear(b.records)
	clear(b.events)
	clear(b.eventRecs)
	clear(b.deadLetters)
	b.records, b.events, b.eventRecs, b.deadLetters, b.bytes = b.records[:0], b.events[:0], b.eventRecs[:0], b.deadLetters[:0], 0
	return nil
}

// writeEvents inserts the batch's events. Rows ClickHouse refuses become dead
// letters with the server's reason, written with the batch's others.
func (s *sink) writeEvents(ctx context.Context, store *chstore.Store, now time.Time) error {
	b := &s.batch
	refused, err := s.isolate(ctx, tableEvents, len(b.events), func(ctx context.Context, lo, hi int) error {
		return store.InsertEvents(ctx, b.events[lo:hi], now)
	})
	if err != nil {
		return err
	}
	for _, r := range refused {
		rec := b.eventRecs[r.index]
		s.logger.Warn("ClickHouse refused an event; dead-lettering it", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "reason", chstore.Reason(r.err))
		b.deadLetters = append(b.deadLetters, eventDeadLetter(rec, reasonRejected, chstore.Reason(r.err)))
	}
	return nil
}

// writeDeadLetters inserts the batch's dead letters. One that ClickHouse
// refuses is written again as its identity, reason and the server's refusal
// alone, without payload or headers; if even that is refused, the batch
// fails, to be retried.
func (s *sink) writeDeadLetters(ctx context.Context, store *chstore.Store, now time.Time) error {
	b := &s.batch
	refused, err := s.isolate(ctx, tableDeadLetters, len(b.deadLetters), func(ctx context.Context, lo, hi int) error {
		return store.InsertDeadLetters(ctx, b.deadLetters[lo:hi], now)
	})
	if err != nil || len(refused) == 0 {
		return err
	}
	bare := make([]chstore.DeadLetter, len(refused))
	for i, r := range refused {
		d := b.deadLetters[r.index]
		bare[i] = chstore.DeadLetter{
			RawTopic: d.RawTopic, RawPartition: d.RawPartition, RawOffset: d.RawOffset,
			Reason: d.Reason, Stage: d.Stage, ReceivedTime: d.ReceivedTime,
			Detail: "ClickHouse refused this dead letter: " + chstore.Reason(r.err),
		}
	}
	return s.insert(ctx, tableDeadLetters, len(bare), func(ctx context.Context) error {
		return store.InsertDeadLetters(ctx, bare, now)
	})
}

// refusal is a row ClickHouse refused and why.
type refusal struct {
	index int
	err   error
}

// isolate inserts rows [0, n) of table with insert. When ClickHouse refuses a
// range for its data (chstore.IsRejected), the range is split in halves and
// each half inserted on its own, down to single rows: it returns the rows
// refused alone, everything else being written. Any other error ends it, for
// the whole batch to be retried (rows written meanwhile collapse in
// ClickHouse). k bad rows among n cost about 2·k·log2(n) inserts; a block over
// max_partitions_per_insert_block passes once split, with no row refused.
func (s *sink) isolate(ctx context.Context, table string, n int, insert func(ctx context.Context, lo, hi int) error) ([]refusal, error) {
	var (
		refused []refusal
		walk    func(lo, hi int) error
	)
	walk = func(lo, hi int) error {
		err := s.insert(ctx, table, hi-lo, func(ctx context.Context) error { return insert(ctx, lo, hi) })
		switch {
		case err == nil:
			return nil
		case !chstore.IsRejected(err):
			return err
		case hi-lo == 1:
			refused = append(refused, refusal{index: lo, err: err})
			return nil
		}
		mid := lo + (hi-lo)/2
		if err := walk(lo, mid); err != nil {
			return err
		}
		return walk(mid, hi)
	}
	if n == 0 {
		return nil, nil
	}
	return refused, walk(0, n)
}

// decode turns the batch's records into events and dead letters. An event
// record that cannot be decoded becomes a dead letter, so it never blocks its
// partition; an error that may pass (the schema registry unreachable) fails
// the whole batch, to be tried again.
func (s *sink) decode(ctx context.Context) error {
	b := &s.batch
	clear(b.events)
	clear(b.eventRecs)
	clear(b.deadLetters)
	b.events, b.eventRecs, b.deadLetters = b.events[:0], b.eventRecs[:0], b.deadLetters[:0]
	for _, r := range b.records {
		if r.Topic == s.cfg.DLQTopic {
			b.deadLetters = append(b.deadLetters, dlqDeadLetter(r, s.cfg.RawTopic))
			continue
		}
		b.events = append(b.events, event.Event{})
		err := s.decoder.Decode(ctx, r.Value, &b.events[len(b.events)-1])
		if err == nil {
			b.eventRecs = append(b.eventRecs, r)
			continue
		}
		b.events = b.events[:len(b.events)-1]
		if !errors.Is(err, eventcodec.ErrMalformed) && !errors.Is(err, eventcodec.ErrUnknownSchema) || s.waitForSchema(err) {
			return fmt.Errorf("decoding event at %s/%d/%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		b.deadLetters = append(b.deadLetters, eventDeadLetter(r, reasonUndecodable, err.Error()))
	}
	return nil
}

// waitForSchema reports whether the batch should wait for the schema id of
// err rather than dead-letter its event: the registry does not know the id,
// and UNKNOWN_SCHEMA_WAIT has not passed since the batch first met it.
func (s *sink) waitForSchema(err error) bool {
	if !errors.Is(err, eventcodec.ErrSchemaNotRegistered) {
		return false
	}
	if s.unknownSchemaSince.IsZero() {
		s.unknownSchemaSince = time.Now()
	}
	return time.Since(s.unknownSchemaSince) < s.cfg.UnknownSchemaWait
}

// insert runs one INSERT of rows rows into table and records it.
func (s *sink) insert(ctx context.Context, table string, rows int, write func(context.Context) error) error {
	if rows == 0 {
		return nil
	}
	start := time.Now()
	if err := write(ctx); err != nil {
		return err
	}
	s.metrics.insertSeconds.WithLabelValues(table).Observe(time.Since(start).Seconds())
	s.metrics.rowsWritten.WithLabelValues(table).Add(float64(rows))
	s.metrics.batchesWritten.WithLabelValues(table).Inc()
	return nil
}

// lastPerPartition returns the last record of each partition in records,
// which are in offset order within a partition: committing it commits all.
func lastPerPartition(records []*kgo.Record) []*kgo.Record {
	type tp struct {
		topic     string
		partition int32
	}
	last := map[tp]*kgo.Record{}
	for _, r := range records {
		last[tp{r.Topic, r.Partition}] = r
	}
	out := make([]*kgo.Record, 0, len(last))
	for _, r := range last {
		out = append(out, r)
	}
	return out
}
