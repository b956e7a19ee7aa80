package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/derive"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

// brokerGrace is how much longer than TransactionTimeout the broker lets a
// transaction stay open before aborting it. It bounds how long a crashed
// instance's unfinished transaction holds back read_committed readers (and a
// restarted instance, whose producer id waits for that abort), while giving a
// live instance's end of transaction time to reach the broker. The
// transaction's own bound applies even at shutdown, when the run context is
// already done, so the batch in hand commits rather than being thrown away.
const brokerGrace = 5 * time.Second

// maxTransactionBytes bounds the raw bytes one transaction processes: the
// client buffers at most two fetches of half of it (a single record larger
// than a fetch still comes, alone), and a poll takes only what is buffered.
const maxTransactionBytes = 64 << 20

// Backoffs after an aborted transaction or a failed session: capped
// exponential, reset by the next commit.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// enricher consumes raw records and produces events and dead letters in Kafka
// transactions, so a read_committed subscriber sees each event exactly once.
type enricher struct {
	cfg     Config
	logger  *slog.Logger
	reg     prometheus.Registerer
	metrics *metrics

	// client is the live session's client, for readiness; nil between
	// sessions.
	client atomic.Pointer[kgo.Client]
	// pollRecords is how many raw records the next transaction may take:
	// MaxPollRecords, halved after a transaction that ran out of time and
	// grown back by a quarter with each commit. Used by the session loop only.
	pollRecords int
}

func newEnricher(cfg Config, logger *slog.Logger, reg prometheus.Registerer) *enricher {
	return &enricher{cfg: cfg, logger: logger, reg: reg, metrics: newMetrics(reg), pollRecords: cfg.MaxPollRecords}
}

// ready reports whether a session is consuming and its brokers answer.
func (e *enricher) ready(ctx context.Context) error {
	cl := e.client.Load()
	if cl == nil {
		return errors.New("not consuming yet")
	}
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("pinging kafka: %w", err)
	}
	return nil
}

// run processes until ctx ends. A session that fails (the transactional
// producer fenced or in a fatal state, a broker error franz-go does not retry)
// is closed, which aborts its open transaction, and a new one starts after a
// backoff: nothing is committed that was not produced, so nothing is lost.
func (e *enricher) run(ctx context.Context) error {
	codec, err := e.newCodec(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		err := e.session(ctx, codec)
		if ctx.Err() != nil {
			return nil
		}
		wait := retry.Next()
		e.logger.Error("transaction session failed; starting a new one", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
}

// newCodec builds the event codec: single-object encoding, or with a schema
// registry the Confluent framing, retrying registration until the registry
// answers (it may start after enrich).
func (e *enricher) newCodec(ctx context.Context) (*eventcodec.Codec, error) {
	if e.cfg.Registry.URL == "" {
		return eventcodec.NewCodec()
	}
	client, err := eventcodec.NewRegistryClient(e.cfg.Registry)
	if err != nil {
		return nil, err
	}
	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		codec, err := eventcodec.NewRegistryCodec(ctx, client, e.cfg.EventsTopic+"-value")
		if err == nil {
			return codec, nil
		}
		wait := retry.Next()
		e.logger.Warn("registering the event schema; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

// errBatchTooLarge ends a session whose batch Kafka refused as too large
// although every record in it fit its topic's limit as read at the session's
// start: the limit was lowered since, and the next session reads it again.
var errBatchTooLarge = errors.New("kafka refused a batch as too large; reading the topics' limits again")

// session runs one transactional session. Its producer sizes batches per topic
// from the topics' max.message.bytes, read after they are ensured.
func (e *enricher) session(ctx context.Context, codec *eventcodec.Codec) error {
	limits := kafka.NewProducerLimits()
	opts, err := kafka.Options(e.cfg.Kafka, "enrich", e.logger, e.reg)
	if err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(append(opts,
		kgo.ConsumerGroup(groupID),
		// Static membership: a restarted instance takes its partitions back
		// at once instead of waiting out the dead member's session timeout.
		kgo.InstanceID(e.cfg.TransactionalID),
		kgo.ConsumeTopics(e.cfg.RawTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.TransactionalID(e.cfg.TransactionalID),
		kgo.TransactionTimeout(e.cfg.TransactionTimeout+brokerGrace),
		kgo.FetchMaxBytes(maxTransactionBytes/2),
		kgo.MaxConcurrentFetches(2),
		limits.Opt(),
		kgo.ProducerLinger(0), // End flushes each transaction at once
	)...)
	if err != nil {
		return fmt.Errorf("creating transactional session: %w", err)
	}
	defer sess.Close()
	err = kafka.EnsureTopicsRetrying(ctx, sess.Client(), e.cfg.Kafka, e.logger,
		kafka.RawTopic(e.cfg.Kafka, e.cfg.RawTopic),
		kafka.Topic{Name: e.cfg.EventsTopic},
		kafka.DLQTopic(e.cfg.Kafka, e.cfg.DLQTopic),
	)
	if err != nil {
		return err
	}
	if err := limits.LoadRetrying(ctx, sess.Client(), e.logger, e.cfg.EventsTopic, e.cfg.DLQTopic); err != nil {
		return err
	}
	proc := &derive.Processor{Codec: codec, EventsTopic: e.cfg.EventsTopic, DLQTopic: e.cfg.DLQTopic, Fits: limits.Fits}
	e.client.Store(sess.Client())
	defer e.client.Store(nil)

	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		fetches := sess.PollRecords(ctx, e.pollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			e.logger.Warn("fetching raw records", "topic", topic, "partition", partition, "err", err)
		})
		if fetches.NumRecords() == 0 {
			continue
		}
		committed, err := e.transact(ctx, sess, proc, fetches)
		if err != nil {
			return err
		}
		if committed {
			retry.Reset()
			continue
		}
		// The session rewound to the committed offsets: the same records
		// come again after the backoff.
		if !backoff.Sleep(ctx, retry.Next()) {
			return nil
		}
	}
}

// transact processes one polled batch in one transaction with its consumed
// offsets, so every raw record's events and dead letter commit together with
// the record's offset, or none of them do.
func (e *enricher) transact(ctx context.Context, sess *kgo.GroupTransactSession, proc *derive.Processor, fetches kgo.Fetches) (bool, error) {
	start := time.Now()
	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("beginning transaction: %w", err)
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.TransactionTimeout)
	defer cancel()

	var (
		mu         sync.Mutex
		produceErr error
		tooLarge   bool
		outcomes   = make([]derive.Outcome, 0, fetches.NumRecords())
	)
	fetches.EachRecord(func(raw *kgo.Record) {
		o := proc.Handle(raw)
		outcomes = append(outcomes, o)
		for _, rec := range o.Records {
			sess.Produce(endCtx, rec, func(_ *kgo.Record, err error) {
				if err == nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if produceErr == nil {
					produceErr = err
				}
				if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
					tooLarge = true
				}
			})
		}
	})
	// Flush first so the decision to commit knows every produce result.
	if err := sess.Client().Flush(endCtx); err != nil && produceErr == nil {
		produceErr = fmt.Errorf("flushing: %w", err)
	}
	// Out of time: abort, with a bound of its own, and take less next time.
	endWith, timedOut := endCtx, endCtx.Err() != nil
	if timedOut {
		var cancelAbort context.CancelFunc
		endWith, cancelAbort = context.WithTimeout(context.WithoutCancel(ctx), brokerGrace)
		defer cancelAbort()
		e.pollRecords = max(1, len(outcomes)/2)
		e.logger.Warn("transaction ran out of time; aborting it and shrinking the next ones",
			"records", len(outcomes), "next", e.pollRecords, "timeout", e.cfg.TransactionTimeout)
	}
	committed, err := sess.End(endWith, kgo.TransactionEndTry(produceErr == nil && !timedOut))
	if err != nil {
		e.metrics.aborted.Inc()
		return false, fmt.Errorf("ending transaction: %w", err)
	}
	if !committed {
		e.metrics.aborted.Inc()
		e.logger.Warn("transaction aborted; its records will be processed again", "records", len(outcomes), "err", produceErr)
		if tooLarge {
			return false, errBatchTooLarge
		}
		return false, nil
	}
	e.pollRecords = min(e.cfg.MaxPollRecords, e.pollRecords+e.pollRecords/4+1)
	now := time.Now()
	e.record(outcomes, fetches, start, now)
	return true, nil
}

// record updates the metrics for a committed transaction.
func (e *enricher) record(outcomes []derive.Outcome, fetches kgo.Fetches, start, now time.Time) {
	m := e.metrics
	m.consumed.Add(float64(len(outcomes)))
	for _, o := range outcomes {
		for i := range o.Events {
			m.produced.WithLabelValues(string(o.Events[i].Kind), string(o.Events[i].Platform)).Inc()
		}
		if o.DLQ != "" {
			m.deadLetters.WithLabelValues(o.DLQ).Inc()
		}
		for typ, n := range o.Result.Skipped {
			m.skipped.WithLabelValues(typ).Add(float64(n))
		}
		m.invalidRefs.Add(float64(o.Result.InvalidRefs))
		if o.ReceivedTime > 0 {
			m.latencySeconds.Observe(now.Sub(time.UnixMilli(o.ReceivedTime)).Seconds())
		}
	}
	m.batchSeconds.Observe(now.Sub(start).Seconds())
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			last := p.Records[n-1].Offset
			m.lag.WithLabelValues(strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - last - 1))
		}
	})
}
