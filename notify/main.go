// Command notify turns reftrail's referral events into signed webhooks for
// subscribers that will never run a Kafka consumer: every event carrying a
// referral is POSTed to each of NOTIFY_URLS as a referral.received webhook,
// signed as the Standard Webhooks specification says, delivered at least once
// per endpoint, retried from Kafka topics with growing waits and parked in
// reftrail.notify.dlq after NOTIFY_MAX_AGE. See docs/notify.md.
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
		fmt.Fprintln(os.Stderr, "notify:", err)
		os.Exit(1)
	}
}
