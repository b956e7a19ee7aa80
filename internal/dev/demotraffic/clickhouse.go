package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
)

// countQuery counts the distinct events in the plan's period. Only one plan's
// events are expected there; any other event in the period (another plan, a
// webhook sent by hand) shows as an extra event and a funnel mismatch.
const countQuery = `SELECT uniqExact(event_id) FROM events
WHERE event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}`

// accountsQuery counts the distinct events in the plan's period by account,
// to say where extra events are.
const accountsQuery = `SELECT platform, account_id, uniqExact(event_id) FROM events
WHERE event_time_ms >= {from_ms:Int64} AND event_time_ms < {to_ms:Int64}
GROUP BY platform, account_id ORDER BY platform, account_id`

// pollInterval is the wait between counts; the sink flushes every second by
// default.
const pollInterval = 500 * time.Millisecond

// clickhouseCheck compares what ClickHouse holds with a plan's Expected.
type clickhouseCheck struct {
	addr, database     string
	username, password string
	// timeout bounds the wait for the events to arrive.
	timeout time.Duration
}

// run waits until ClickHouse holds at least the plan's distinct events, then
// runs funnel.sql over the plan's period and prints it beside the plan's
// funnel. It fails when the events do not arrive in time or the funnels
// differ.
func (c clickhouseCheck) run(ctx context.Context, w io.Writer, e *traffic.Expected) error {
	conn, err := chstore.Connect(chstore.Config{Addr: c.addr, Database: c.database, Username: c.username, Password: c.password, ReadTimeout: time.Minute})
	if err != nil {
		return err
	}
	defer conn.Close()
	params := map[string]any{"from_ms": e.FromMs, "to_ms": e.ToMs}

	fmt.Fprintf(w, "waiting up to %v for ClickHouse at %s (database %s) to hold the plan's %d events\n", c.timeout, c.addr, c.database, e.TotalEvents)
	got, waited, err := c.waitForEvents(ctx, conn, params, e.TotalEvents)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "ClickHouse holds %d distinct events in the plan's period after %v\n", got, waited.Round(time.Millisecond))
	if got > uint64(e.TotalEvents) {
		accounts, err := queryAccounts(ctx, conn, params)
		if err != nil {
			return err
		}
		printExtraNote(w, e, got, accounts)
	}

	rows, err := traffic.QueryFunnel(ctx, conn, e.FromMs, e.ToMs)
	if err != nil {
		return err
	}
	return printFunnel(w, c.database, e, rows)
}

// waitForEvents counts the plan's events until there are want, timeout passes
// or ctx ends. Errors are retried until then: the sink may still be creating
// the tables.
func (c clickhouseCheck) waitForEvents(ctx context.Context, conn driver.Conn, params map[string]any, want int) (uint64, time.Duration, error) {
	query, err := bindQuery(countQuery, params)
	if err != nil {
		return 0, 0, err
	}
	began := time.Now()
	deadline := time.NewTimer(c.timeout)
	defer deadline.Stop()
	var (
		n       uint64
		lastErr error
	)
	for {
		err := conn.QueryRow(ctx, query).Scan(&n)
		switch {
		case err != nil:
			lastErr = fmt.Errorf("counting events: %w", err)
		case n >= uint64(want):
			return n, time.Since(began), nil
		default:
			lastErr = nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("interrupted while waiting for ClickHouse: %d of %d events so far", n, want)
		case <-deadline.C:
			if lastErr != nil {
				return 0, 0, fmt.Errorf("ClickHouse at %s (database %s) did not answer within %v: %w; is `make run` going?", c.addr, c.database, c.timeout, lastErr)
			}
			return 0, 0, fmt.Errorf("ClickHouse holds %d of the plan's %d events after %v: is the sink running (see .reftrail/logs/sink.log)? A larger -clickhouse-timeout waits longer", n, want, c.timeout)
		case <-time.After(pollInterval):
		}
	}
}

// accountEvents is the number of distinct events of one account.
type accountEvents struct {
	platform event.Platform
	account  string
	events   uint64
}

func queryAccounts(ctx context.Context, conn driver.Conn, params map[string]any) ([]accountEvents, error) {
	query, err := bindQuery(accountsQuery, params)
	if err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("counting events by account: %w", err)
	}
	defer rows.Close()
	var out []accountEvents
	for rows.Next() {
		var a accountEvents
		var platform string
		if err := rows.Scan(&platform, &a.account, &a.events); err != nil {
			return nil, fmt.Errorf("counting events by account: %w", err)
		}
		a.platform = event.Platform(platform)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting events by account: %w", err)
	}
	return out, nil
}

// printExtraNote says what ClickHouse holds in the plan's period beyond the
// plan's got events: events of accounts the plan never uses, else extra
// events on the plan's own accounts.
func printExtraNote(w io.Writer, e *traffic.Expected, got uint64, accounts []accountEvents) {
	planAccounts := map[funnelKey]bool{}
	for _, r := range e.Funnel {
		planAccounts[funnelKey{platform: r.Platform, account: r.AccountID}] = true
	}
	var foreign []string
	var foreignEvents uint64
	for _, a := range accounts {
		if !planAccounts[funnelKey{platform: a.platform, account: a.account}] {
			foreign = append(foreign, fmt.Sprintf("%d on %s account %s", a.events, a.platform, a.account))
			foreignEvents += a.events
		}
	}
	period := fmt.Sprintf("%s to %s", time.UnixMilli(e.FromMs).UTC().Format(time.RFC3339), time.UnixMilli(e.ToMs).UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "note: ClickHouse holds %d distinct events in the plan's period (%s), %d more than the plan sent.\n", got, period, got-uint64(e.TotalEvents))
	if len(foreign) > 0 {
		fmt.Fprintf(w, "  %d of them are on accounts the plan never uses: %s.\n", foreignEvents, strings.Join(foreign, ", "))
	}
	if rest := got - uint64(e.TotalEvents) - min(foreignEvents, got-uint64(e.TotalEvents)); rest > 0 {
		fmt.Fprintf(w, "  %d are on the plan's own accounts: another plan (other -seed or -participants) or webhooks sent by hand for them.\n", rest)
	}
	fmt.Fprintln(w, "  The funnel below counts them too; webhooks sent by hand with timestamps outside this period stay out of it.")
}

func bindQuery(query string, params map[string]any) (string, error) {
	bound, err := chstore.BindQuery(query, params)
	if err != nil {
		return "", fmt.Errorf("preparing query: %w", err)
	}
	return bound, nil
}

// funnelKey identifies a funnel row as funnel.sql groups it.
type funnelKey struct {
	platform event.Platform
	account  string
	ref      string
}

func (k funnelKey) compare(o funnelKey) int {
	return cmp.Or(cmp.Compare(k.platform, o.platform), cmp.Compare(k.account, o.account), cmp.Compare(k.ref, o.ref))
}

func indexFunnel(rows []traffic.FunnelRow) map[funnelKey]traffic.FunnelRow {
	m := make(map[funnelKey]traffic.FunnelRow, len(rows))
	for _, r := range rows {
		m[funnelKey{r.Platform, r.AccountID, r.Ref}] = r
	}
	return m
}

// printFunnel prints the funnel per ref, each cell "ClickHouse/plan", then
// the rows that differ. It compares rows by platform, account and ref, so
// differences that cancel out in a per-ref sum are still caught, and returns
// an error when any row differs.
func printFunnel(w io.Writer, database string, e *traffic.Expected, got []traffic.FunnelRow) error {
	gotBy, wantBy := indexFunnel(got), indexFunnel(e.Funnel)
	var keys []funnelKey
	for k := range gotBy {
		keys = append(keys, k)
	}
	for k := range wantBy {
		if _, ok := gotBy[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, funnelKey.compare)
	var (
		differing []funnelKey
		refs      []string
		badRefs   = map[string]bool{}
	)
	for _, k := range keys {
		refs = append(refs, k.ref)
		g, inGot := gotBy[k]
		x, inWant := wantBy[k]
		if inGot != inWant || g != x {
			differing = append(differing, k)
			badRefs[k.ref] = true
		}
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)

	gotByRef := (&traffic.Expected{Funnel: got}).FunnelByRef()
	wantByRef := e.FunnelByRef()
	fmt.Fprintf(w, "campaign funnel from ClickHouse (database %s, funnel.sql with from_ms=%d to_ms=%d), each cell ClickHouse/plan:\n", database, e.FromMs, e.ToMs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ref\treferrals\tparticipants\tconversed\tanswered\treturned\t")
	for _, ref := range refs {
		g, x := rowOf(gotByRef, ref), rowOf(wantByRef, ref)
		verdict := "ok"
		if badRefs[ref] {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%d/%d\t%s\n", ref,
			g.Referrals, x.Referrals, g.Participants, x.Participants, g.Conversed, x.Conversed,
			g.Answered, x.Answered, g.Returned, x.Returned, verdict)
	}
	tw.Flush()

	if len(differing) == 0 {
		fmt.Fprintf(w, "funnel: ClickHouse matches the plan in all %d rows by platform, account and ref\n", len(keys))
		return nil
	}
	for _, k := range differing {
		g, inGot := gotBy[k]
		x, inWant := wantBy[k]
		fmt.Fprintf(w, "differs: %s %s %s: ClickHouse %s; plan %s\n", k.platform, k.account, k.ref, stages(g, inGot), stages(x, inWant))
	}
	return fmt.Errorf("ClickHouse's funnel differs from the plan in %d of %d rows", len(differing), len(keys))
}

// rowOf returns the row of ref in rows, or a zero row.
func rowOf(rows []traffic.FunnelRow, ref string) traffic.FunnelRow {
	if i := slices.IndexFunc(rows, func(r traffic.FunnelRow) bool { return r.Ref == ref }); i >= 0 {
		return rows[i]
	}
	return traffic.FunnelRow{Ref: ref}
}

func stages(r traffic.FunnelRow, ok bool) string {
	if !ok {
		return "no row"
	}
	return fmt.Sprintf("%d referrals, %d participants, %d conversed, %d answered, %d returned",
		r.Referrals, r.Participants, r.Conversed, r.Answered, r.Returned)
}
