// Command sink writes reftrail events and dead letters from Kafka to
// ClickHouse in large native inserts, committing offsets only after ClickHouse
// accepted them, so that nothing is lost and duplicates collapse on event_id.
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
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
}
