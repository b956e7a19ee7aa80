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
	flags := flag.NewFlagSet("enrich", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: enrich\n\nConfigured by environment variables; see README.md (Configuration).")
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
	logger := obs.NewLogger(stdout, "enrich", cfg.LogLevel)
	reg := obs.NewRegistry()
	e := newEnricher(cfg, logger, reg)

	admin := httpserver.New(obs.AdminHandler(reg, e.ready, logger), logger)
	return httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, e.run)
}
