package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/httpserver"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
	"github.com/reftrail/reftrail/internal/obs"
	"github.com/reftrail/reftrail/internal/spool"
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
	metrics := newMetrics(reg)

	var sp *spool.Spool
	if cfg.SpoolDir != "" {
		if sp, err = spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.SpoolMaxBytes}); err != nil {
			return fmt.Errorf("opening SPOOL_DIR: %w", err)
		}
		defer sp.Close()
		if r := sp.Repaired(); r != nil {
			logger.Warn("cut a torn record off the spool's end; it was never acknowledged",
				"segment", r.Segment, "offset", r.Offset, "dropped_bytes", r.DroppedBytes)
		}
		registerSpoolGauges(reg, sp)
	}

	// Batches are sized from the raw topic's max.message.bytes, which an
	// operator may have set lower than reftrail creates it with.
	limits := kafka.NewProducerLimits()
	client, err := kafka.NewClient(cfg.Kafka, "ingest", logger, reg,
		kgo.RecordDeliveryTimeout(recordDeliveryTimeout),
		kgo.MaxBufferedBytes(maxBufferedBytes),
		kgo.ProducerLinger(0),
		limits.Opt(),
	)
	if err != nil {
		return err
	}
	defer client.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}

	// Background work stops when serving does, whatever the reason.
	work, stopWork := context.WithCancel(ctx)
	defer stopWork()
	// The topic check retries in the background so ingest listens at once:
	// until it passes, a POST goes to the spool, or gets 503 without one.
	topic := topicCheck{limits: limits}
	go topic.run(work, client, cfg, logger)

	webhooks := &webhookHandler{
		client:         client,
		topic:          cfg.RawTopic,
		verifier:       meta.NewVerifier(cfg.AppSecrets),
		topicReady:     topic.ready,
		verifyToken:    cfg.VerifyToken,
		requestIDs:     newRequestIDs(),
		bodies:         newBodyReader(cfg.MaxBodyBytes),
		produceTimeout: cfg.ProduceTimeout,
		deadlines:      newDeadlines(cfg.ProduceTimeout),
		metrics:        metrics,
		logger:         logger,
	}
	// Started before serving, stopped once every handler answered.
	go webhooks.deadlines.run(work)
	var forwarding sync.WaitGroup
	if sp != nil {
		webhooks.spool = &spooler{spool: sp, client: client, topic: cfg.RawTopic, topicReady: topic.ready, metrics: metrics, logger: logger}
		webhooks.spool.resume()
		forwarding.Go(func() { webhooks.spool.forward(work) })
	}
	ready := readyCheck(&topic, client, webhooks.spool, int(cfg.MaxBodyBytes))

	var deletions *deletionHandler
	if cfg.PublicURL != "" {
		var stop func()
		if deletions, stop, err = newDeletionHandler(work, cfg, client, logger, reg); err != nil {
			return err
		}
		defer stop()
	}

	public := httpserver.New(NewServer(webhooks, deletions), logger)
	admin := httpserver.New(obs.AdminHandler(reg, ready, logger), logger)
	serveErr := httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, func(ctx context.Context) error {
		return httpserver.ServeListener(ctx, public, newLimitListener(ln, maxConnections), logger)
	})
	stopWork()
	forwarding.Wait()

	// Every handler has answered by now; flush what a handler gave up on with
	// a 503, so it is not lost if it can still land.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		logger.Warn("flushing kafka producer at shutdown", "err", err)
	}
	return serveErr
}

// readyCheck is /readyz: ready while a POST can be made durable, by Kafka or
// by the spool. A raw topic too small for ingest's records is never ready.
func readyCheck(topic *topicCheck, client *kgo.Client, sp *spooler, maxBody int) obs.ReadyCheck {
	return func(ctx context.Context) error {
		if p := topic.refused.Load(); p != nil {
			return *p
		}
		var spoolErr error
		if sp != nil {
			if spoolErr = sp.ready(maxBody); spoolErr == nil {
				return nil
			}
			if sp.holding() {
				// New records queue behind the spool, so Kafka alone
				// does not make ingest ready.
				return fmt.Errorf("spool cannot take records: %w", spoolErr)
			}
		}
		if err := topic.err(); err != nil {
			return errors.Join(err, spoolErr)
		}
		if err := client.Ping(ctx); err != nil {
			return errors.Join(fmt.Errorf("pinging kafka: %w", err), spoolErr)
		}
		return nil
	}
}
