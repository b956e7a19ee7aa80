package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
)

const eraseUsage = `erase --platform P --account A --participant ID [--by WHO] [--dry-run]

Removes one person's rows from every ClickHouse table that holds them (events,
participant aggregates, dead letters that name them) and rebuilds the campaign
aggregate rows they were counted in from the events that remain; waits until
ClickHouse has finished, then records the erasure in reftrail.erasures. It
cannot reach the raw and DLQ topics (they keep payloads until their retention)
nor backups; see docs/operations.md.`

func runErase(ctx context.Context, args []string, env environment) error {
	fs := newFlags("erase", eraseUsage, env)
	platform := fs.String("platform", "", "instagram or messenger (any case)")
	account := fs.String("account", "", "the business account: Page ID or Instagram account ID")
	participant := fs.String("participant", "", "the person: PSID / IGSID")
	by := fs.String("by", env.getenv("USER"), "who asked, recorded in reftrail.erasures (default $USER)")
	dryRun := fs.Bool("dry-run", false, "count the rows, remove nothing")
	if ok, err := parseFlags(fs, args); !ok {
		return err
	}
	if err := unexpected(fs); err != nil {
		return err
	}
	p, err := parsePlatform(*platform)
	if err != nil {
		return fmt.Errorf("--platform: %w", err)
	}
	if *account == "" || *participant == "" {
		return fmt.Errorf("--account and --participant are required")
	}
	if *by == "" && !*dryRun {
		return fmt.Errorf("--by is required when $USER is not set: say who asked for the erasure")
	}
	cfg, err := configFromEnv(env.getenv)
	if err != nil {
		return err
	}
	conn, err := chstore.Connect(cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	er, err := chstore.Erase(ctx, conn, cfg.ClickHouse.Database, chstore.Person{Platform: string(p), AccountID: *account, ParticipantID: *participant},
		chstore.EraseOptions{DryRun: *dryRun, RequestedBy: *by})
	if err != nil {
		return err
	}
	printErasure(env, er)
	return nil
}

func printErasure(env environment, er chstore.Erasure) {
	verb := "erased"
	if er.DryRun {
		verb = "would erase (dry run)"
	}
	fmt.Fprintf(env.stdout, "%s %s %s %s\n", verb, er.Person.Platform, er.Person.AccountID, er.Person.ParticipantID)
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  table\trows")
	for _, r := range er.Removed {
		fmt.Fprintf(tw, "  %s\t%d\n", r.Table, r.Rows)
	}
	tw.Flush()
	if er.DryRun {
		return
	}
	fmt.Fprintf(env.stdout, "rebuilt %d campaign_daily_agg rows from the remaining events; recorded in erasures at %s\n", er.Rebuilt, er.At.Format(time.RFC3339))
}
