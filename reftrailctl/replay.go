package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/reftrail/reftrail/internal/derive"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/replay"
)

const replayUsage = `replay raw --from T --to T | replay dlq [--reason R] [--from T] [--to T] [--dry-run]

raw: decodes the raw records received in the period again with this build's
decoder and produces their events and dead letters (same event ids, so
ClickHouse absorbs what it already holds), one Kafka transaction per batch.
dlq: sends dead letters back to the raw topic with their original headers plus
reftrail-replayed-at, for enrich to decode again after a fix; a replayed record
that still fails returns to the DLQ once (stage *_replayed) and is not sent again.
Times: RFC 3339, a date (2025-11-24; as --to, the whole day), Unix ms, or a span
before now (7d, 24h).`

func runReplay(ctx context.Context, args []string, env environment) error {
	if len(args) == 0 || (args[0] != "raw" && args[0] != "dlq") {
		fmt.Fprintf(env.stderr, "usage: reftrailctl %s\n", replayUsage)
		return fmt.Errorf("replay what? raw or dlq")
	}
	kind := args[0]
	fs := newFlags("replay "+kind, replayUsage, env)
	from := fs.String("from", "", "start of the period (inclusive)")
	to := fs.String("to", "", "end of the period (exclusive); default now")
	batch := fs.Int("batch", 500, "input records per transaction")
	reason := fs.String("reason", "", "dlq: only dead letters with this reftrail-dlq-reason")
	dryRun := fs.Bool("dry-run", false, "dlq: count what would be sent back, send nothing")
	if ok, err := parseFlags(fs, args[1:]); !ok {
		return err
	}
	if err := unexpected(fs); err != nil {
		return err
	}
	cfg, err := configFromEnv(env.getenv)
	if err != nil {
		return err
	}
	now := time.Now()
	var period replay.Period
	switch {
	case kind == "raw":
		if *from == "" || *to == "" {
			return fmt.Errorf("replay raw needs --from and --to")
		}
		if *reason != "" || *dryRun {
			return fmt.Errorf("--reason and --dry-run are for replay dlq")
		}
		fallthrough
	case *from != "":
		r, err := parseRange(*from, *to, now)
		if err != nil {
			return err
		}
		period = replay.Period{From: r.from, To: r.to}
	case *to != "":
		t, err := parseTime(*to, now, true)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		period = replay.Period{To: t}
	}
	if *batch < 1 {
		return fmt.Errorf("--batch must be at least 1")
	}
	rc := replay.Config{
		Kafka:           cfg.Kafka,
		TransactionalID: "reftrailctl-replay-" + kind,
		BatchRecords:    *batch,
		Progress:        env.stderr,
		Logger:          slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if kind == "dlq" {
		sum, err := replay.DeadLetters(ctx, rc, cfg.DLQTopic, cfg.RawTopic, replay.DLQOptions{Reason: *reason, Period: period, DryRun: *dryRun, Now: now})
		printDLQSummary(env, sum, *dryRun, cfg)
		return err
	}
	codec, err := newCodec(ctx, cfg)
	if err != nil {
		return err
	}
	proc := &derive.Processor{Codec: codec, EventsTopic: cfg.EventsTopic, DLQTopic: cfg.DLQTopic}
	sum, err := replay.Raw(ctx, rc, cfg.RawTopic, period, proc)
	fmt.Fprintf(env.stdout, "replay raw %s .. %s: %d raw records read, %d events produced to %s, %d dead letters to %s\n",
		period.From.Format(time.RFC3339), period.To.Format(time.RFC3339), sum.RecordsRead, sum.EventsProduced, cfg.EventsTopic, sum.DeadLetters, cfg.DLQTopic)
	return err
}

func printDLQSummary(env environment, sum replay.DLQSummary, dryRun bool, cfg Config) {
	verb := "sent back to"
	if dryRun {
		verb = "would be sent back to"
	}
	fmt.Fprintf(env.stdout, "replay dlq: %d dead letters read, %d %s %s\n", sum.Read, sum.TotalSent(), verb, cfg.RawTopic)
	for _, r := range sum.Reasons() {
		fmt.Fprintf(env.stdout, "  %-24s %d\n", r, sum.Sent[r])
	}
	if sum.AlreadyReplayed > 0 {
		fmt.Fprintf(env.stdout, "  skipped, already replayed once and failed again: %d\n", sum.AlreadyReplayed)
	}
	if sum.Copies > 0 {
		fmt.Fprintf(env.stdout, "  skipped, another dead letter of a raw record already sent: %d\n", sum.Copies)
	}
	if sum.OtherReason > 0 {
		fmt.Fprintf(env.stdout, "  skipped, another reason: %d\n", sum.OtherReason)
	}
	if sum.NoPayload > 0 {
		fmt.Fprintf(env.stdout, "  skipped, no payload (too large; use replay raw for its period): %d\n", sum.NoPayload)
	}
}

// newCodec builds the event codec as enrich does: single-object encoding, or
// the Confluent framing with the schema registered at SCHEMA_REGISTRY_URL.
func newCodec(ctx context.Context, cfg Config) (*eventcodec.Codec, error) {
	if cfg.Registry.URL == "" {
		return eventcodec.NewCodec()
	}
	client, err := eventcodec.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return eventcodec.NewRegistryCodec(ctx, client, cfg.EventsTopic+"-value")
}
