package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/deletion"
	"github.com/reftrail/reftrail/internal/kafka"
)

const deletionsUsage = `deletions process [--by WHO] [--dry-run] | deletions list

Meta's data deletion requests, as ingest's POST /data-deletion recorded them
in DELETION_TOPIC. process handles every request still "received": it looks
the app-scoped user id up in reftrail.deletion_mappings (which the business
fills), erases every participant mapped to it (as reftrailctl erase does) or,
with no mapping, records that nothing could be identified; then it writes the
outcome to DELETION_TOPIC, which the status page shows, and to
reftrail.deletion_requests. list prints every request and its status.`

func runDeletions(ctx context.Context, args []string, env environment) error {
	if len(args) == 0 || (args[0] != "process" && args[0] != "list") {
		fmt.Fprintf(env.stderr, "usage: reftrailctl %s\n", deletionsUsage)
		return fmt.Errorf("deletions what? process or list")
	}
	fs := newFlags("deletions "+args[0], deletionsUsage, env)
	by := fs.String("by", "data-deletion-callback", "process: who asked, recorded in reftrail.erasures")
	dryRun := fs.Bool("dry-run", false, "process: say what would be done, change nothing")
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
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, err := kafka.NewClient(cfg.Kafka, "reftrailctl", logger, prometheus.NewRegistry(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer client.Close()
	book, err := deletion.ReadAll(ctx, client, cfg.DeletionTopic)
	if err != nil {
		return err
	}
	reqs := book.All()
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].ReceivedAt.Before(reqs[j].ReceivedAt) })
	if args[0] == "list" {
		tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "confirmation_code\treceived_at\tstatus\tfinished_at\tpeople\trows_removed\tuser_id")
		for _, r := range reqs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Code, r.ReceivedAt.Format(time.RFC3339), r.Status, formatFinished(r.FinishedAt), r.People, r.RowsRemoved, r.UserID)
		}
		return tw.Flush()
	}

	conn, err := chstore.Connect(cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	db := cfg.ClickHouse.Database
	var pending, done []deletion.Request
	for _, r := range reqs {
		if r.Status == deletion.Received {
			pending = append(pending, r)
		}
	}
	for _, r := range pending {
		people, err := chstore.MappedPeople(ctx, conn, db, r.UserID)
		if err != nil {
			return err
		}
		if *dryRun {
			fmt.Fprintf(env.stdout, "%s received %s: would erase %d mapped participants\n", r.Code, r.ReceivedAt.Format(time.RFC3339), len(people))
			continue
		}
		out := r
		out.Status = deletion.NoMatch
		for _, p := range people {
			er, err := chstore.Erase(ctx, conn, db, p, chstore.EraseOptions{RequestedBy: *by, Request: r.Code})
			if err != nil {
				return fmt.Errorf("request %s: %w", r.Code, err)
			}
			for _, t := range er.Removed {
				out.RowsRemoved += t.Rows
			}
			out.People++
			out.Status = deletion.Erased
		}
		now := time.Now().UTC()
		out.FinishedAt, out.UpdatedAt = now, now
		// The status the page shows is written last, once the erasure
		// is done and recorded: the page never claims what did not happen.
		rec, err := out.Record(cfg.DeletionTopic)
		if err != nil {
			return err
		}
		if err := client.ProduceSync(ctx, rec).FirstErr(); err != nil {
			return fmt.Errorf("request %s: writing its status: %w", r.Code, err)
		}
		book.Put(out)
		done = append(done, out)
		fmt.Fprintf(env.stdout, "%s received %s: %s, %d participants, %d rows removed\n", out.Code, out.ReceivedAt.Format(time.RFC3339), out.Status, out.People, out.RowsRemoved)
	}
	if *dryRun {
		fmt.Fprintf(env.stdout, "%d pending requests; dry run, nothing changed\n", len(pending))
		return nil
	}
	// Mirror every request, processed now or before, into ClickHouse.
	var rows []chstore.DeletionRequest
	for _, r := range book.All() {
		rows = append(rows, chstore.DeletionRequest{Code: r.Code, UserID: r.UserID, Status: string(r.Status), IssuedAt: r.IssuedAt, ReceivedAt: r.ReceivedAt,
			FinishedAt: r.FinishedAt, People: uint32(r.People), RowsRemoved: r.RowsRemoved, UpdatedAt: r.UpdatedAt})
	}
	if err := chstore.RecordDeletionRequests(ctx, conn, db, rows); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "%d requests processed, %d in all\n", len(done), len(rows))
	return nil
}

func formatFinished(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
