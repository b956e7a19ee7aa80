package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"

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

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var serveErr error
	wg.Go(func() {
		admin := httpserver.New(obs.AdminHandler(reg, s.ready, logger), logger)
		serveErr = httpserver.Serve(ctx, admin, cfg.MetricsAddr, logger)
		cancel() // an admin server that cannot listen stops the service
	})
	runErr := s.run(ctx)
	cancel()
	wg.Wait()
	return errors.Join(runErr, serveErr)
}
