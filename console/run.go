package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

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

	store, err := chstore.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer store.Close()
	// The console writes the links table, which a sink of an older release
	// would not have created; migrating is safe beside running sinks.
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		return err
	}

	handler, err := NewServer(cfg, store, newMetrics(reg), logger)
	if err != nil {
		return err
	}
	srv := httpserver.New(handler, logger)
	admin := httpserver.New(obs.AdminHandler(reg, store.Ping, logger), logger)
	return httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, func(ctx context.Context) error {
		return httpserver.Serve(ctx, srv, cfg.Addr, logger)
	})
}
