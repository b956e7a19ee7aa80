package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/httpserver"
	"github.com/reftrail/reftrail/internal/obs"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("console", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: console\n\nConfigured by environment variables; see README.md (Configuration) and docs/console.md.")
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
	logger := obs.NewLogger(stdout, "console", cfg.LogLevel)
	reg := obs.NewRegistry()

	// The pages and the API start once ClickHouse answers and is migrated;
	// until then METRICS_ADDR answers /readyz with 503.
	var ready atomic.Pointer[chstore.Store]
	readyCheck := func(ctx context.Context) error {
		store := ready.Load()
		if store == nil {
			return errors.New("ClickHouse not connected or migrated yet")
		}
		return store.Ping(ctx)
	}
	admin := httpserver.New(obs.AdminHandler(reg, readyCheck, logger), logger)
	return httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, func(ctx context.Context) error {
		store, err := openStore(ctx, cfg, logger)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		defer store.Close()
		handler, err := NewServer(cfg, store, newMetrics(reg), logger)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
		}
		settling, stopSettling := context.WithCancel(ctx)
		settled := make(chan struct{})
		go func() {
			defer close(settled)
			settleOutcomes(settling, store, logger)
		}()
		defer func() {
			stopSettling()
			<-settled
		}()
		// Ready only once the pages' address accepts connections.
		ready.Store(store)
		return httpserver.ServeListener(ctx, httpserver.New(handler, logger), ln, logger)
	})
}

// The funnel reads the referrals of hours that ended over 7 days ago from
// their settled outcomes, settling them first when needed. The console
// settles the hours of its longest preset (30 days, from any time zone) at
// start and then every settleEvery, so that a viewer rarely waits for it.
const (
	settleLookback = 31 * 24 * time.Hour
	settleEvery    = 10 * time.Minute
)

// settleOutcomes keeps the recent funnel outcomes settled until ctx ends. A
// failure is logged and tried again at the next round: Store.Funnel settles
// what it needs itself.
func settleOutcomes(ctx context.Context, store *chstore.Store, logger *slog.Logger) {
	for {
		start := time.Now()
		hours, _, err := store.SettleOutcomes(ctx, start.Add(-settleLookback), start)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Warn("settling funnel outcomes failed; the funnel settles what it reads", "err", err)
		case hours > 0:
			logger.Info("settled funnel outcomes", "hours", hours, "seconds", time.Since(start).Seconds())
		}
		if !backoff.Sleep(ctx, settleEvery) {
			return
		}
	}
}

// Retry delays while ClickHouse does not answer: it may start after the
// console, as it may after sink.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// openStore connects to ClickHouse and applies the migrations (the console
// writes the links table, which a sink of an older release would not have
// created; migrating beside running sinks is safe), retrying with backoff
// until both succeed or ctx ends.
func openStore(ctx context.Context, cfg Config, logger *slog.Logger) (*chstore.Store, error) {
	retry := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		store, err := chstore.Open(ctx, cfg.ClickHouse)
		if err == nil {
			if err = store.Migrate(ctx, chstore.MigrateOptions{}); err == nil {
				return store, nil
			}
			store.Close()
		}
		wait := retry.Next()
		logger.Warn("ClickHouse not ready; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return nil, ctx.Err()
		}
	}
}
