package chstore_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/bulkload"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// BenchmarkIntegrationReads measures the read API over a large data set: the
// latency (p50, p95) of Participant, Windows, the 30-day funnel, and the
// overview's queries, each run many times in a row on a server that has
// finished merging. Two baselines run in the same way: a round trip (SELECT
// 1) and counting the rows of the last 30 days.
//
// READS_BENCH_EVENTS sets the data set's size (default 10,000,000 events,
// loaded by internal/dev/bulkload: demo stories over 90 days, with
// redeliveries). READS_BENCH_DATABASE names a database to keep between runs
// (with CLICKHOUSE_ADDR, a server that outlives the test): it is loaded when
// empty and reused as it is otherwise (drop it after an interrupted load);
// without it a fresh database is loaded and dropped. READS_BENCH_ONLY, a
// regular expression, runs only the operations whose names it matches.
//
//	CLICKHOUSE_ADDR=127.0.0.1:9000 READS_BENCH_DATABASE=reads10m \
//	  go test -run '^$' -bench Reads -benchtime 1x -timeout 2h ./internal/chstore
func BenchmarkIntegrationReads(b *testing.B) {
	want := testenv.PositiveInt(b, "READS_BENCH_EVENTS", 10_000_000)
	srv := chtest.Start(b)
	db := os.Getenv("READS_BENCH_DATABASE")
	if db == "" {
		db = srv.NewDatabase(b)
	}
	ctx := context.Background()
	store, err := chstore.Open(ctx, chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password, ReadTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	// The benchmark's own reads (setup, baselines, open_windows) on a pool
	// as patient as the Store's.
	conn, err := chstore.Connect(chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password, ReadTimeout: 10 * time.Minute})
	if err != nil {
		b.Fatalf("Connect: %v", err)
	}
	b.Cleanup(func() { conn.Close() })
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&have); err != nil {
		b.Fatalf("counting events: %v", err)
	}
	switch {
	case have == 0:
		last := time.Now()
		st, err := bulkload.Load(ctx, store, bulkload.Options{Events: want}, func(n int) {
			if time.Since(last) > 30*time.Second {
				b.Logf("loaded %d events", n)
				last = time.Now()
			}
		})
		if err != nil {
			b.Fatalf("Load: %v", err)
		}
		b.Logf("loaded %d events and %d dead letters (%d participants planned) in %v: %.0f events/s",
			st.Events, st.DeadLetters, st.Participants, st.Elapsed.Round(time.Second), float64(st.Events)/st.Elapsed.Seconds())
	default:
		// Merges collapse redelivered copies, so a complete load holds fewer
		// rows than it wrote; an interrupted one has to be dropped by hand.
		b.Logf("reusing database %s: %d event rows (a load writes %d with copies)", db, have, want)
	}
	waitForMerges(b, conn, db)

	var nowMs int64
	var rows, participants uint64
	if err := conn.QueryRow(ctx, "SELECT toInt64(quantile(0.9)(event_time_ms)) FROM events WHERE isNotNull(referral_ref)").Scan(&nowMs); err != nil {
		b.Fatalf("reading the data set: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&rows); err != nil {
		b.Fatalf("reading the data set: %v", err)
	}
	if err := conn.QueryRow(ctx, "SELECT uniq(platform, account_id, participant_id) FROM participant_state").Scan(&participants); err != nil {
		b.Fatalf("reading the data set: %v", err)
	}
	// "Now" is late in the data but before its tail, where the load's last
	// stories thin out: as busy a moment for windows as any.
	now := time.UnixMilli(nowMs).UTC()
	chstore.SetClock(store, func() time.Time { return now })
	b.Logf("data set: %d event rows, about %d participants; now = %s", rows, participants, now.Format(time.RFC3339))

	type key struct{ platform, account, participant string }
	var people []key
	sample, err := conn.Query(ctx, "SELECT DISTINCT platform, account_id, participant_id FROM participant_state WHERE cityHash64(participant_id) % 10000 = 7 LIMIT 300")
	if err != nil {
		b.Fatalf("sampling participants: %v", err)
	}
	for sample.Next() {
		var k key
		if err := sample.Scan(&k.platform, &k.account, &k.participant); err != nil {
			b.Fatalf("sampling participants: %v", err)
		}
		people = append(people, k)
	}
	sample.Close()
	type account struct {
		platform, account string
		open              uint64
	}
	var accounts []account
	acc, err := conn.Query(ctx, "SELECT platform, account_id, uniqExact(participant_id) FROM message_windows WHERE expires_ms > "+strconv.FormatInt(nowMs, 10)+" AND opened_ms <= "+strconv.FormatInt(nowMs, 10)+" GROUP BY platform, account_id ORDER BY platform, account_id")
	if err != nil {
		b.Fatalf("listing accounts: %v", err)
	}
	for acc.Next() {
		var a account
		if err := acc.Scan(&a.platform, &a.account, &a.open); err != nil {
			b.Fatalf("listing accounts: %v", err)
		}
		accounts = append(accounts, a)
	}
	acc.Close()
	if len(people) == 0 || len(accounts) == 0 {
		b.Fatalf("no participants (%d) or open windows (%d accounts)", len(people), len(accounts))
	}
	for _, a := range accounts {
		b.Logf("account %s/%s: %d open windows", a.platform, a.account, a.open)
	}

	// The funnel reads settled outcomes for the referrals of hours that
	// ended over 7 days before the Store's clock, and judges the newer ones
	// from their events and the 7 days after them. It is measured three
	// ways: 30 days up to "now" (the newest week judged from events, with
	// the 7 days of data after it: a worst case, as a live database has no
	// events after now); with the clock at the data's end, the last 30 days
	// (what the overview's 30-day preset reads) and the 30 days before them
	// (a past month, all settled); and 30 days up to "now" judged wholly from
	// events, as before outcomes were settled. Settling starts from nothing:
	// its cost is logged.
	var firstMs, endMs int64
	if err := conn.QueryRow(ctx, "SELECT min(event_time_ms), max(event_time_ms) + 1 FROM events").Scan(&firstMs, &endMs); err != nil {
		b.Fatalf("reading the data set: %v", err)
	}
	end := time.UnixMilli(endMs).UTC()
	atEnd := func(run func() error) error {
		chstore.SetClock(store, func() time.Time { return end })
		defer chstore.SetClock(store, func() time.Time { return now })
		return run()
	}
	for _, table := range []string{"referral_outcomes", "referral_outcome_hours"} {
		if err := conn.Exec(ctx, "TRUNCATE TABLE "+table); err != nil {
			b.Fatalf("emptying %s: %v", table, err)
		}
	}
	for _, w := range []struct {
		name     string
		from, to time.Time
	}{{"the 30 days the console settles at start", end.Add(-31 * 24 * time.Hour), end}, {"the rest of the data", time.UnixMilli(firstMs), end}} {
		start := time.Now()
		var hours int
		err := atEnd(func() (err error) {
			hours, _, err = store.SettleOutcomes(ctx, w.from, w.to)
			return err
		})
		if err != nil {
			b.Fatalf("settling %s: %v", w.name, err)
		}
		b.Logf("settled %s: %d hours in %v", w.name, hours, time.Since(start).Round(time.Millisecond))
	}

	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		b.Fatalf("time zone: %v", err)
	}
	month := now.Add(-30 * 24 * time.Hour)
	today := now.Add(-24 * time.Hour)
	ops := []struct {
		name string
		runs int
		run  func(i int) error
	}{
		// Baselines: a round trip, and the cheapest read of the 30 days the
		// overview reads (counting their rows), so that figures taken on a
		// busy machine can be judged against what the server gives anyone.
		{"baseline_select_1", 50, func(int) error { return drain(ctx, conn, "SELECT 1") }},
		{"baseline_count_30d", 5, func(int) error {
			return drain(ctx, conn, "SELECT count() FROM events WHERE event_time >= toDateTime("+strconv.FormatInt(month.Unix(), 10)+", 'UTC')")
		}},
		{"participant", len(people), func(i int) error {
			k := people[i]
			_, err := store.Participant(ctx, k.platform, k.account, k.participant)
			return err
		}},
		{"windows_first_page", 10 * len(accounts), func(i int) error {
			a := accounts[i%len(accounts)]
			_, err := store.Windows(ctx, a.platform, a.account, chstore.WindowsOptions{})
			return err
		}},
		{"windows_page_of_1000_marketing", 5 * len(accounts), func(i int) error {
			a := accounts[i%len(accounts)]
			_, err := store.Windows(ctx, a.platform, a.account, chstore.WindowsOptions{Limit: chstore.MaxWindowsLimit, MarketingOnly: true})
			return err
		}},
		{"open_windows_all_accounts", 5, func(int) error { return runQuery(ctx, conn, "open_windows", map[string]any{"now_ms": nowMs}) }},
		{"funnel_by_campaign_30d", 5, func(int) error { _, err := store.Funnel(ctx, month, now, "campaign"); return err }},
		{"funnel_by_campaign_last_30d", 5, func(int) error {
			return atEnd(func() error { _, err := store.Funnel(ctx, end.Add(-30*24*time.Hour), end, "campaign"); return err })
		}},
		{"funnel_by_campaign_past_month", 5, func(int) error {
			return atEnd(func() error {
				_, err := store.Funnel(ctx, end.Add(-60*24*time.Hour), end.Add(-30*24*time.Hour), "campaign")
				return err
			})
		}},
		{"funnel_by_campaign_30d_events", 5, func(int) error {
			return runQuery(ctx, conn, "funnel_by", map[string]any{"from_ms": month.UnixMilli(), "to_ms": nowMs, "settled_to_ms": int64(0), "by": "campaign"})
		}},
		{"funnel_by_ref_30d_sql", 5, func(int) error {
			return runQuery(ctx, conn, "funnel", map[string]any{"from_ms": month.UnixMilli(), "to_ms": nowMs})
		}},
		{"referrals_per_day_30d", 5, func(int) error { _, err := store.ReferralsPerDay(ctx, month, now, berlin); return err }},
		{"attribution_by_campaign_30d", 3, func(int) error { _, err := store.Attribution(ctx, month, now, "campaign"); return err }},
		{"pipeline_health_1d", 3, func(int) error { _, err := store.PipelineHealth(ctx, today, now); return err }},
		{"pipeline_health_30d", 3, func(int) error { _, err := store.PipelineHealth(ctx, month, now); return err }},
	}
	only := regexp.MustCompile(os.Getenv("READS_BENCH_ONLY"))
	var report strings.Builder
	fmt.Fprintf(&report, "%-32s %5s %10s %10s %10s\n", "operation", "runs", "p50 ms", "p95 ms", "max ms")
	for _, op := range ops {
		if !only.MatchString(op.name) {
			continue
		}
		lat := make([]float64, 0, op.runs)
		for i := range op.runs {
			start := time.Now()
			if err := op.run(i); err != nil {
				b.Fatalf("%s: %v", op.name, err)
			}
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		}
		slices.Sort(lat)
		p50, p95 := percentile(lat, 0.50), percentile(lat, 0.95)
		fmt.Fprintf(&report, "%-32s %5d %10.1f %10.1f %10.1f\n", op.name, op.runs, p50, p95, lat[len(lat)-1])
		b.ReportMetric(p50, op.name+"_p50_ms")
		b.ReportMetric(p95, op.name+"_p95_ms")
	}
	b.Logf("latencies over %d event rows:\n%s", rows, report.String())
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// runQuery runs a query file and reads every row, as a client would.
func runQuery(ctx context.Context, conn driver.Conn, name string, params map[string]any) error {
	text, err := chstore.Query(name)
	if err != nil {
		return err
	}
	q, err := chstore.BindQuery(text, params)
	if err != nil {
		return err
	}
	return drain(ctx, conn, q)
}

// drain runs q and reads every row.
func drain(ctx context.Context, conn driver.Conn, q string) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

// waitForMerges waits, up to 20 minutes, until the server merges no part of
// db: measuring while a load's parts are still merging would measure the
// merges.
func waitForMerges(b *testing.B, conn driver.Conn, db string) {
	b.Helper()
	start := time.Now()
	for time.Since(start) < 20*time.Minute {
		var merges, parts uint64
		err := conn.QueryRow(context.Background(), "SELECT (SELECT count() FROM system.merges WHERE database = '"+db+"'), (SELECT count() FROM system.parts WHERE database = '"+db+"' AND active)").Scan(&merges, &parts)
		if err != nil {
			b.Fatalf("reading merges: %v", err)
		}
		if merges == 0 {
			b.Logf("merges done after %v; %d active parts", time.Since(start).Round(time.Second), parts)
			return
		}
		time.Sleep(5 * time.Second)
	}
	b.Logf("still merging after 20 minutes: measuring anyway")
}
