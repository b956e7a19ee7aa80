package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/httpserver"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
	"github.com/reftrail/reftrail/internal/obs"
)

// Producer bounds. Records stay buffered at most recordDeliveryTimeout while
// brokers are down (Meta redelivers what got a 503 anyway), and the buffer is
// capped so an outage cannot grow memory without limit: when it is full,
// Produce waits, the produce timeout passes and the answer is 503.
const (
	recordDeliveryTimeout = 30 * time.Second
	maxBufferedBytes      = 256 << 20
	flushTimeout          = 10 * time.Second
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("ingest", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: ingest\n\nConfigured by environment variables; see README.md (Configuration).")
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg, err := configFromEnv(getenv)
	if err != nil {
		return err
	}
	logger := obs.NewLogger(stdout, "ingest", cfg.LogLevel)
	reg := obs.NewRegistry()

	client, err := kafka.NewClient(cfg.Kafka, "ingest", logger, reg,
		kgo.RecordDeliveryTimeout(recordDeliveryTimeout),
		kgo.MaxBufferedBytes(maxBufferedBytes),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(kafka.MaxRecordBytes),
	)
	if err != nil {
		return err
	}
	defer client.Close()

	// Topic creation retries in the background so ingest listens at once: a
	// POST that arrives before Kafka is up gets 503 and Meta redelivers it.
	var topicsReady atomic.Bool
	go func() {
		if kafka.EnsureTopicsRetrying(ctx, client, cfg.Kafka, logger, kafka.Topic{Name: cfg.RawTopic, LargeRecords: true}) == nil {
			topicsReady.Store(true)
		}
	}()
	ready := func(ctx context.Context) error {
		if !topicsReady.Load() {
			return errors.New("kafka topics not checked yet")
		}
		if err := client.Ping(ctx); err != nil {
			return fmt.Errorf("pinging kafka: %w", err)
		}
		return nil
	}

	webhooks := &webhookHandler{
		client:         client,
		topic:          cfg.RawTopic,
		verifier:       meta.NewVerifier(cfg.AppSecrets),
		verifyToken:    cfg.VerifyToken,
		maxBodyBytes:   cfg.MaxBodyBytes,
		produceTimeout: cfg.ProduceTimeout,
		metrics:        newMetrics(reg),
		logger:         logger,
	}
	srv := httpserver.New(NewServer(webhooks, reg, ready, logger), logger)
	serveErr := httpserver.Serve(ctx, srv, cfg.Addr, logger)

	// Every handler has answered by now; flush what a handler gave up on with
	// a 503, so it is not lost if it can still land.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		logger.Warn("flushing kafka producer at shutdown", "err", err)
	}
	return serveErr
}
