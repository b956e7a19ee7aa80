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
	flags := flag.NewFlagSet("notify", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: notify\n\nConfigured by environment variables; see README.md (Configuration) and docs/notify.md.")
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
	logger := obs.NewLogger(stdout, "notify", cfg.LogLevel)
	reg := obs.NewRegistry()
	n, err := newNotifier(cfg, logger, reg)
	if err != nil {
		return err
	}
	admin := httpserver.New(obs.AdminHandler(reg, n.ready, logger), logger)
	return httpserver.ServeWhile(ctx, admin, cfg.MetricsAddr, logger, n.run)
}
