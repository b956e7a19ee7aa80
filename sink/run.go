package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/reftrail/reftrail/internal/httpserver"
	"github.com/reftrail/reftrail/internal/obs"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("sink", flag.ContinueOnError)
	flags.SetOutput(stderr)
	migrateOnly := flags.Bool("migrate", false, "apply the ClickHouse migrations and exit")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: sink [-migrate]\n\nConfigured by environment variables; see README.md (Configuration).")
		flags.PrintDefaults()
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
	logger := obs.NewLogger(stdout, "sink", cfg.LogLevel)
	if *migrateOnly {
		return migrate(ctx, cfg, logger)
	}
	reg := obs.NewRegistry()
	s, err := newSink(cfg, logger, reg)
	if err != nil {
		return err
	}

	admin := httpserver.New(obs.AdminHandler(reg, s.ready, logger), logger)
	return httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, s.run)
}
