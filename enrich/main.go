// Command enrich turns raw Meta webhook payloads into reftrail.ReferralEvent
// records, one per interaction keyed by participant, exactly once; what it
// cannot decode goes to the dead-letter topic with a reason.
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
		fmt.Fprintln(os.Stderr, "enrich:", err)
		os.Exit(1)
	}
}
