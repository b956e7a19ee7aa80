// Command demotraffic sends demo traffic to ingest: the webhooks of a
// traffic.Plan, signed as Meta signs them, at a chosen rate or as fast as
// possible, retrying failed deliveries as Meta would. It prints what was
// delivered and what the pipeline must end up with (the plan's Expected),
// and can write the latter as JSON for scripts and tests.
//
// With -check-clickhouse it then waits until ClickHouse holds the plan's
// events (sink has written them) and prints the campaign funnel that
// ClickHouse computes beside the plan's, failing on any difference: what
// `make demo` runs against the stack of `make run`.
//
// The same flags always send the same bytes, so a second run against the same
// pipeline adds only duplicates, which event ids absorb.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demotraffic:", err)
		os.Exit(1)
	}
}

// devSecret is the app secret devstack gives ingest when META_APP_SECRETS is
// not set.
const devSecret = "dev-app-secret"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("demotraffic", flag.ContinueOnError)
	flags.SetOutput(stderr)
	target := flags.String("url", "http://127.0.0.1:8080/webhook", "ingest's webhook `URL`")
	// The default is resolved below rather than shown here, so -help never
	// prints a configured secret.
	secret := flags.String("secret", "", "app `secret` to sign with (default: the first of META_APP_SECRETS, else "+devSecret+")")
	seed := flags.Uint64("seed", 1, "plan seed: the same seed sends the same bytes")
	participants := flags.Int("participants", traffic.DefaultParticipants, "number of participants (about 3 events each)")
	start := flags.String("start", traffic.DefaultStart.Format(time.RFC3339), "base `time` of the plan (RFC 3339); referrals fall in the 7 days after it")
	rate := flags.Float64("rate", 0, "webhooks per second; 0 sends as fast as possible")
	concurrency := flags.Int("concurrency", 8, "POSTs in flight at once")
	retries := flags.Int("retries", 5, "retries of a webhook answered 5xx or 429 or not answered, with backoff from 100ms")
	expectJSON := flags.String("expect-json", "", "write the expected results as JSON to `path`")
	check := flags.Bool("check-clickhouse", false, "after sending, wait until ClickHouse holds the plan's events, then print its campaign funnel beside the plan's and fail on a difference")
	chAddr := flags.String("clickhouse-addr", valueOr(getenv, "CLICKHOUSE_ADDR", "127.0.0.1:9000"), "ClickHouse native protocol `host:port` for -check-clickhouse; CLICKHOUSE_ADDR sets the default")
	chDatabase := flags.String("clickhouse-database", valueOr(getenv, "CLICKHOUSE_DATABASE", "reftrail"), "ClickHouse `database` holding reftrail's tables; CLICKHOUSE_DATABASE sets the default")
	chTimeout := flags.Duration("clickhouse-timeout", 2*time.Minute, "how long -check-clickhouse waits for the plan's events")
	ingestTimeout := flags.Duration("ingest-timeout", 10*time.Second, "how long to wait for ingest's /healthz (beside -url) to answer 200 before sending")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag", flags.Args())
	}

	var errs []error
	if u, err := url.Parse(*target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("-url %q is not an http(s) URL", *target))
	}
	base, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		errs = append(errs, fmt.Errorf("-start %q is not an RFC 3339 time such as 2025-11-03T00:00:00Z", *start))
	}
	if *participants < 1 {
		errs = append(errs, fmt.Errorf("-participants is %d, want at least 1", *participants))
	}
	if *rate < 0 {
		errs = append(errs, fmt.Errorf("-rate is %v, want 0 (as fast as possible) or more", *rate))
	}
	if *concurrency < 1 {
		errs = append(errs, fmt.Errorf("-concurrency is %d, want at least 1", *concurrency))
	}
	if *retries < 0 {
		errs = append(errs, fmt.Errorf("-retries is %d, want 0 or more", *retries))
	}
	if *ingestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-ingest-timeout is %v, want more than 0", *ingestTimeout))
	}
	if *chTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-clickhouse-timeout is %v, want more than 0", *chTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if *secret == "" {
		*secret = defaultSecret(getenv)
	}

	plan, err := traffic.NewPlan(traffic.Options{Seed: *seed, Participants: *participants, Start: base})
	if err != nil {
		return err
	}
	expected := plan.Expected()
	// Written before sending, so a script has it even when delivery fails.
	if *expectJSON != "" {
		if err := writeJSON(*expectJSON, expected); err != nil {
			return err
		}
	}

	webhooks := plan.Webhooks()
	client := &http.Client{Timeout: traffic.DefaultAttemptTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}}
	if err := waitIngestUp(ctx, client, *target, *ingestTimeout); err != nil {
		return err
	}
	rep, err := traffic.Send(ctx, client, *target, *secret, webhooks,
		traffic.SendOptions{Rate: *rate, Concurrency: *concurrency, Retries: *retries})
	printSummary(stdout, *target, webhooks, rep, &expected)
	if err != nil || !*check {
		return err
	}
	c := clickhouseCheck{
		addr:     *chAddr,
		database: *chDatabase,
		username: getenv("CLICKHOUSE_USERNAME"),
		password: getenv("CLICKHOUSE_PASSWORD"),
		timeout:  *chTimeout,
	}
	if err := c.run(ctx, stdout, &expected); err != nil {
		return err
	}
	// The console of make run, over the plan's days (:8090 listens on every address).
	console := valueOr(getenv, "CONSOLE_ADDR", "127.0.0.1:8090")
	if strings.HasPrefix(console, ":") {
		console = "127.0.0.1" + console
	}
	fmt.Fprintf(stdout, "Look at it in the console: http://%s/campaigns?period=custom&from=%s&to=%s&tz=UTC\n", console,
		time.UnixMilli(expected.FromMs).UTC().Format(time.DateOnly), time.UnixMilli(expected.ToMs-1).UTC().Format(time.DateOnly))
	return nil
}

// waitIngestUp asks ingest's /healthz, beside target, until it answers 200
// or timeout passes. Nothing listening fails at once: without it every POST
// would be retried and the ClickHouse check would wait minutes in silence.
// (/readyz is on ingest's METRICS_ADDR, which the demo does not know; a
// live ingest accepts or answers 503, which Send retries.)
func waitIngestUp(ctx context.Context, client *http.Client, target string, timeout time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("-url %q: %w", target, err)
	}
	healthz := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/healthz"}).String()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthz, nil)
		if err != nil {
			return fmt.Errorf("asking whether ingest is up: %w", err)
		}
		resp, err := client.Do(req)
		switch {
		case err != nil && ctx.Err() == nil && errors.Is(err, syscall.ECONNREFUSED):
			return fmt.Errorf("nothing answers at %s: is `make run` going? (or pass ingest's URL with -url)", healthz)
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("ingest at %s did not answer within %v: is `make run` going?", healthz, timeout)
		case err != nil:
			return fmt.Errorf("asking ingest at %s whether it is up: %w: is `make run` going?", healthz, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s answers %d, not 200, after %v: is ingest at -url %s? (with make run, its log is .reftrail/logs/ingest.log)", healthz, resp.StatusCode, timeout, target)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// valueOr returns the environment variable name, or def when it is unset or empty.
func valueOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// defaultSecret is the first of META_APP_SECRETS, the secrets ingest accepts,
// else the development secret.
func defaultSecret(getenv func(string) string) string {
	first, _, _ := strings.Cut(getenv("META_APP_SECRETS"), ",")
	if first = strings.TrimSpace(first); first != "" {
		return first
	}
	return devSecret
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding expected results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing expected results: %w", err)
	}
	return nil
}

// printSummary writes one line on the delivery, one on the expected events,
// and the expected funnel and attribution per ref as a table.
func printSummary(w io.Writer, target string, webhooks []traffic.Webhook, rep traffic.Report, e *traffic.Expected) {
	bad := 0
	for _, wh := range webhooks {
		if wh.DeadLetter != "" {
			bad++
		}
	}
	fmt.Fprintf(w, "sent %d of %d webhooks (%d redeliveries, %d bad on purpose) to %s: accepted %d, retried %d, failed %d in %v (%.1f/s); answers: %s\n",
		rep.Sent, len(webhooks), e.Redeliveries, bad, target, rep.Accepted, rep.Retried, rep.Failed,
		rep.Elapsed.Round(time.Millisecond), float64(rep.Accepted)/max(rep.Elapsed.Seconds(), 1e-9), rep.Answers())
	fmt.Fprintf(w, "expected: %d distinct events (REFERRAL %d, MESSAGE %d, POSTBACK %d, OPTIN %d, ECHO %d), %d dead letters, %d skipped items, events in from_ms=%d to_ms=%d\n",
		e.TotalEvents, e.Events[event.KindReferral], e.Events[event.KindMessage], e.Events[event.KindPostback], e.Events[event.KindOptin], e.Events[event.KindEcho],
		e.TotalDeadLetters, e.Skipped, e.FromMs, e.ToMs)

	touches := map[string]traffic.AttributionRow{}
	for _, r := range e.AttributionByRef() {
		touches[r.Ref] = r
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ref\treferrals\tconversed\tanswered\treturned\tfirst touch\tlast touch")
	for _, r := range e.FunnelByRef() {
		t := touches[r.Ref]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", r.Ref, r.Referrals, r.Conversed, r.Answered, r.Returned, t.FirstTouch, t.LastTouch)
	}
	tw.Flush()
}
