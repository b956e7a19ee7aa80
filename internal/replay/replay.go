// Package replay sends Kafka records through reftrail's derivation again:
// raw records of a period (Raw), decoded with the current decoder into events
// and dead letters, and dead letters back to the raw topic (DeadLetters), for
// enrich to decode after a fix. reftrailctl replay is its command line.
//
// Both produce in Kafka transactions, one per batch, so a read_committed
// reader sees each batch once or not at all; a run that fails midway leaves
// its committed batches, and running it again only repeats events whose
// deterministic event ids ClickHouse absorbs.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/kafka"
)

// Config is what both replays need.
type Config struct {
	Kafka kafka.Config
	// TransactionalID identifies the replay's producer. Two runs with the same
	// id fence each other, so only one replay of a kind runs at a time.
	TransactionalID string
	// BatchRecords is how many input records one transaction covers. Default 500.
	BatchRecords int
	// Progress receives one line per committed batch; nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// transactionTimeout bounds how long a replay's open transaction can hold
// back read_committed readers if the replay dies.
const transactionTimeout = 30 * time.Second

// Period selects records by their Kafka timestamp: From inclusive, To
// exclusive. A zero From is the start of the topic, a zero To its end.
type Period struct{ From, To time.Time }

// span is a partition's offsets to read: [start, end).
type span struct{ start, end int64 }

// offsetsFor returns, per partition of topic, the offsets of the records whose
// timestamps fall in p, as Kafka's time index finds them (ListOffsetsAfterMilli).
func offsetsFor(ctx context.Context, adm *kadm.Client, topic string, p Period) (map[int32]span, error) {
	list := func(t time.Time, atStart bool) (kadm.ListedOffsets, error) {
		switch {
		case t.IsZero() && atStart:
			return adm.ListStartOffsets(ctx, topic)
		case t.IsZero():
			return adm.ListEndOffsets(ctx, topic)
		}
		return adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topic)
	}
	starts, err := list(p.From, true)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	ends, err := list(p.To, false)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	spans := map[int32]span{}
	starts.Each(func(o kadm.ListedOffset) {
		if e, ok := ends.Lookup(topic, o.Partition); ok && e.Offset > o.Offset {
			spans[o.Partition] = span{o.Offset, e.Offset}
		}
	})
	if len(starts[topic]) == 0 {
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	return spans, nil
}

// reader reads each partition's span once, read_committed.
type reader struct {
	client *kgo.Client
	topic  string
	spans  map[int32]span
	next   map[int32]int64
	// total counts the spans' offsets: an upper bound of the records, since
	// transaction markers take offsets too.
	total int64
}

func newReader(spans map[int32]span, topic string) (*reader, []kgo.Opt) {
	offsets := map[int32]kgo.Offset{}
	r := &reader{topic: topic, spans: spans, next: map[int32]int64{}}
	for p, s := range spans {
		offsets[p] = kgo.NewOffset().At(s.start)
		r.next[p] = s.start
		r.total += s.end - s.start
	}
	return r, []kgo.Opt{
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}
}

// done reports whether every span has been read.
func (r *reader) done() bool {
	for p, s := range r.spans {
		if r.next[p] < s.end {
			return false
		}
	}
	return true
}

// idleWait is how long a poll may return nothing before the spans count as
// read. Partitions written in transactions (the DLQ) end in commit markers,
// offsets no record fills, so a position can stop short of its span's end
// for good; the spans lie in the past, so what is missing after a quiet
// idleWait is such a gap, not a record still to come.
const idleWait = 3 * time.Second

// poll returns up to max records inside the spans; none and no error when
// they are all read.
func (r *reader) poll(ctx context.Context, max int) ([]*kgo.Record, error) {
	for !r.done() {
		pollCtx, cancel := context.WithTimeout(ctx, idleWait)
		fetches := r.client.PollRecords(pollCtx, max)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var errs []error
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, fmt.Errorf("fetching %s/%d: %w", topic, p, err))
			}
		})
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		var out []*kgo.Record
		fetches.EachRecord(func(rec *kgo.Record) {
			s := r.spans[rec.Partition]
			if rec.Offset < s.end {
				out = append(out, rec)
			}
			r.next[rec.Partition] = rec.Offset + 1
		})
		for p, s := range r.spans {
			if r.next[p] >= s.end {
				r.client.PauseFetchPartitions(map[string][]int32{r.topic: {p}})
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if fetches.NumRecords() == 0 {
			return nil, nil
		}
	}
	return nil, nil
}

// newClient returns a client for cfg that reads topic's spans, and produces
// in transactions when cfg has a TransactionalID.
func newClient(cfg Config, topic string, spans map[int32]span) (*reader, error) {
	r, consume := newReader(spans, topic)
	opts, err := kafka.Options(cfg.Kafka, "reftrailctl", cfg.Logger, prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	opts = append(opts, consume...)
	if cfg.TransactionalID != "" {
		opts = append(opts,
			kgo.TransactionalID(cfg.TransactionalID),
			kgo.TransactionTimeout(transactionTimeout),
			kgo.ProducerBatchMaxBytes(kafka.MaxRecordBytes),
			kgo.ProducerLinger(0),
		)
	}
	r.client, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return r, nil
}

// commit produces recs in one transaction and commits it, or aborts it and
// returns why: nothing of an aborted batch is visible to read_committed readers.
func commit(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	var produceErr error
	results := cl.ProduceSync(ctx, recs...)
	produceErr = results.FirstErr()
	if produceErr == nil {
		if err := cl.Flush(ctx); err != nil {
			produceErr = fmt.Errorf("flushing: %w", err)
		}
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.EndTransaction(endCtx, kgo.TransactionEndTry(produceErr == nil)); err != nil {
		return fmt.Errorf("ending transaction: %w", err)
	}
	if produceErr != nil {
		return fmt.Errorf("producing (transaction aborted): %w", produceErr)
	}
	return nil
}

func (c Config) batch() int {
	if c.BatchRecords <= 0 {
		return 500
	}
	return c.BatchRecords
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

func newAdminClient(cfg Config) (*kgo.Client, error) {
	opts, err := kafka.Options(cfg.Kafka, "reftrailctl", cfg.Logger, prometheus.NewRegistry())
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating kafka client: %w", err)
	}
	return cl, nil
}
