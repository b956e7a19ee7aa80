package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

// Time limits. One flush (decode, insert, commit) runs while the sink blocks
// the group from rebalancing, so insertTimeout plus commitTimeout stays well
// under the group's rebalance timeout (franz-go's default, 60s): a member that
// blocks longer is kicked out. insertTimeout is also the ClickHouse read
// timeout, so a server that hangs fails the attempt instead of the group.
// shutdownTimeout bounds, from SIGTERM, the flush under way and the last one;
// migrateTimeout bounds `sink -migrate` waiting for ClickHouse.
const (
	insertTimeout   = 20 * time.Second
	commitTimeout   = 10 * time.Second
	shutdownTimeout = 20 * time.Second
	migrateTimeout  = time.Minute
)

// Backoffs between attempts to reach ClickHouse or to write a failed batch
// again: capped exponential, reset by the next success. The cap is also how
// long the sink may take to notice that ClickHouse is back.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Memory bounds. A batch ends at BATCH_ROWS records or at maxBatchBytes of
// record data, whichever comes first: DLQ records may be up to
// kafka.MaxRecordBytes each. The client buffers at most maxConcurrentFetches
// fetch responses of fetchMaxBytes (a single record larger than the limit still
// comes, alone), and fetches nothing while a batch waits for ClickHouse.
// Together with the decoded batch these bound the process however long the
// backlog: roughly 2×16 MiB buffered + 64 MiB pending + the decoded rows and
// their column copies during an insert.
const (
	maxBatchBytes          = 64 << 20
	fetchMaxBytes          = 16 << 20
	fetchMaxPartitionBytes = 4 << 20
	maxConcurrentFetches   = 2
)

// sink consumes the events and DLQ topics and writes them to ClickHouse in
// batches, committing offsets only after ClickHouse accepted the batch.
type sink struct {
	cfg     Config
	logger  *slog.Logger
	reg     prometheus.Registerer
	metrics *metrics
	decoder *eventcodec.Decoder

	// store and client are set once connected, for readiness.
	store  atomic.Pointer[chstore.Store]
	client atomic.Pointer[kgo.Client]
	// retrying is set while a batch that ClickHouse (or the schema
	// registry) refused waits for its next attempt.
	retrying atomic.Bool

	// unknownSchemaSince is when the batch first held an event whose
	// schema id the registry did not know; zero when none waits. Used by
	// the consume loop only.
	unknownSchemaSince time.Time

	// mu guards the batch: the consume loop fills and flushes it, the
	// rebalance callbacks drop records of partitions that moved away.
	mu    sync.Mutex
	batch batch
}

func newSink(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*sink, error) {
	registry, err := eventcodec.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, err
	}
	decoder, err := eventcodec.NewDecoder(registry)
	if err != nil {
		return nil, fmt.Errorf("creating event decoder: %w", err)
	}
	return &sink{cfg: cfg, logger: logger, reg: reg, metrics: newMetrics(reg), decoder: decoder}, nil
}

// ready reports whether ClickHouse and Kafka answer and no batch is waiting to
// be written again.
func (s *sink) ready(ctx context.Context) error {
	store, client := s.store.Load(), s.client.Load()
	switch {
	case store == nil:
		return errors.New("ClickHouse not connected or migrated yet")
	case client == nil:
		return errors.New("not consuming yet")
	case s.retrying.Load():
		return errors.New("a batch failed to insert and is being retried")
	}
	if err := store.Ping(ctx); err != nil {
		return err
	}
	if err := client.Ping(ctx); err != nil {
		return fmt.Errorf("pinging kafka: %w", err)
	}
	return nil
}

// run connects to ClickHouse (migrating it) and to Kafka, waiting for both,
// then consumes until ctx ends.
func (s *sink) run(ctx context.Context) error {
	store, err := s.openStore(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer store.Close()
	s.store.Store(store)

	opts := []kgo.Opt{
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(s.cfg.EventsTopic, s.cfg.DLQTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// enrich writes in transactions: aborted events must not reach
		// ClickHouse.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(s.dropPartitions),
		kgo.OnPartitionsLost(s.dropPartitions),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.MaxConcurrentFetches(maxConcurrentFetches),
	}
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	client, err := kafka.NewClient(s.cfg.Kafka, "sink", s.logger, s.reg, opts...)
	if err != nil {
		return err
	}
	err = kafka.EnsureTopicsRetrying(ctx, client, s.cfg.Kafka, s.logger,
		kafka.Topic{Name: s.cfg.EventsTopic},
		kafka.DLQTopic(s.cfg.Kafka, s.cfg.DLQTopic),
	)
	if err != nil {
		client.Close()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.client.Store(client)
	return s.consume(ctx, client, store)
}

// openStore connects to ClickHouse and applies the migrations, retrying with
// backoff until both succeed or ctx ends: ClickHouse may start after the sink.
func (s *sink) openStore(ctx context.Context) (*chstore.Store, error) {
	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		store, err := s.tryOpenStore(ctx)
		if err == nil {
			return store, nil
		}
		wait := retry.Next()
		s.logger.Warn("ClickHouse not ready; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}

func (s *sink) tryOpenStore(ctx context.Context) (*chstore.Store, error) {
	store, err := chstore.Open(ctx, s.cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// migrate is `sink -migrate`: apply the migrations and return, waiting up to
// migrateTimeout for ClickHouse to answer.
func migrate(ctx context.Context, cfg Config, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	s := &sink{cfg: cfg, logger: logger}
	store, err := s.openStore(ctx)
	if err != nil {
		return fmt.Errorf("migrating ClickHouse at %s (waited up to %v): %w", cfg.ClickHouse.Addr, migrateTimeout, err)
	}
	logger.Info("migrated", "database", cfg.ClickHouse.Database)
	return store.Close()
}
