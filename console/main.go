// Command console is reftrail's web console and JSON API for marketers: it
// makes the tracked ig.me and m.me links (with their QR codes) and keeps them
// in the ClickHouse catalog, and shows the campaigns' results as charts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}
