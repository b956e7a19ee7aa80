// Command reftrailctl operates reftrail: it runs the dashboard queries, replays
// raw records and dead letters after a decoder fix, erases one person's data,
// and processes Meta's data deletion requests. It reads the same environment
// variables as the services (KAFKA_*, RAW_TOPIC, EVENTS_TOPIC, DLQ_TOPIC,
// CLICKHOUSE_*). See docs/operations.md.
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
		fmt.Fprintln(os.Stderr, "reftrailctl:", err)
		os.Exit(1)
	}
}
