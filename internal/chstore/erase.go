package chstore

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Person names one participant of one business account, as events do.
// Platform is as stored: INSTAGRAM or MESSENGER.
type Person struct {
	Platform, AccountID, ParticipantID string
}

// EraseOptions tune Erase.
type EraseOptions struct {
	// DryRun counts what would be removed and changes nothing.
	DryRun bool
	// RequestedBy and Request are recorded in erasures: who asked, and the
	// data deletion request's confirmation code when one caused it.
	RequestedBy, Request string
	// Now is the time recorded; time.Now when zero.
	Now time.Time
}

// TableRows is how many rows of a table an erasure removed.
type TableRows struct {
	Table string
	Rows  uint64
}

// Erasure is what Erase did (or, dry, would do).
type Erasure struct {
	At      time.Time
	Person  Person
	Removed []TableRows // per table, in the order they were erased
	// Rebuilt counts the campaign_daily_agg rows written again from the
	// events that remain.
	Rebuilt uint64
	DryRun  bool
}

// Tables that Erase never erases from: its own record, and the deletion
// requests and mappings that say why and for whom.
var eraseKeeps = []string{"erasures", "deletion_requests", "deletion_mappings", "schema_migrations"}

// mutationPoll is how often Erase looks at system.mutations while it waits.
const mutationPoll = 200 * time.Millisecond

// Erase removes one person's rows from database and records the erasure in
// database.erasures:
//
//   - every MergeTree table with platform, account_id and participant_id
//     columns (events, participant_state, message_windows and any per-participant table a
//     later migration adds): the person's rows;
//   - referral_outcomes, the settled funnel stages of the person's referrals,
//     which name the person by the hash the funnel counts people by;
//   - campaign_daily_agg, whose uniqExact states hold the person's event and
//     participant ids: the (ref, day) rows their referrals touched are deleted
//     and written again from the events that remain, so no stale state keeps
//     counting them;
//   - dead_letters: rows whose payload names both the account and the person
//     as a JSON "id" (or "user_ref"). A dead letter is one raw payload and may
//     hold other people's items too; it is removed whole, since a payload
//     cannot be partly kept. A payload dropped for size has nothing to match.
//
// Deletions are ALTER TABLE ... DELETE mutations (ClickHouse 18.16 has no
// lightweight delete); Erase waits until system.mutations reports each done
// before the next step, and records the erasure last, so a recorded erasure
// has happened. It cannot reach the Kafka topics (raw and DLQ keep payloads
// until their retention), backups, or events replayed after it: a replay of a
// period that includes the person writes their events again.
func Erase(ctx context.Context, conn driver.Conn, database string, p Person, opts EraseOptions) (Erasure, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	er := Erasure{At: opts.Now.UTC().Truncate(time.Second), Person: p, DryRun: opts.DryRun}
	if !identRE.MatchString(database) {
		return er, fmt.Errorf("erasing: database name %q must match %s", database, identRE)
	}
	if p.Platform == "" || p.AccountID == "" || p.ParticipantID == "" {
		return er, fmt.Errorf("erasing: platform, account and participant are all required")
	}
	tables, err := participantTables(ctx, conn, database)
	if err != nil {
		return er, err
	}
	person := fmt.Sprintf("platform = %s AND account_id = %s AND participant_id = %s",
		quoteString(p.Platform), quoteString(p.AccountID), quoteString(p.ParticipantID))

	// The campaign rows to rebuild, found before the person's events go.
	keys, err := campaignKeys(ctx, conn, database, person)
	if err != nil {
		return er, err
	}
	campaign := ""
	if len(keys) > 0 {
		campaign = fmt.Sprintf("platform = %s AND account_id = %s AND (ref, day) IN (%s)",
			quoteString(p.Platform), quoteString(p.AccountID), strings.Join(keys, ", "))
	}
	deadLetters := fmt.Sprintf("match(payload, %s) AND match(payload, %s)",
		quoteString(idPattern(p.AccountID)), quoteString(idPattern(p.ParticipantID)))

	type step struct{ table, where string }
	var steps []step
	for _, t := range tables {
		steps = append(steps, step{t, person})
	}
	outcomes, err := count(ctx, conn, "SELECT count() FROM system.tables WHERE database = "+quoteString(database)+" AND name = 'referral_outcomes'")
	if err != nil {
		return er, fmt.Errorf("erasing: listing tables: %w", err)
	}
	if outcomes > 0 {
		steps = append(steps, step{"referral_outcomes", fmt.Sprintf("person = cityHash64(%s, %s, %s)",
			quoteString(p.Platform), quoteString(p.AccountID), quoteString(p.ParticipantID))})
	}
	if campaign != "" {
		steps = append(steps, step{"campaign_daily_agg", campaign})
	}
	steps = append(steps, step{"dead_letters", deadLetters})

	for _, s := range steps {
		n, err := count(ctx, conn, "SELECT count() FROM "+database+"."+s.table+" WHERE "+s.where)
		if err != nil {
			return er, fmt.Errorf("erasing: counting %s: %w", s.table, err)
		}
		er.Removed = append(er.Removed, TableRows{Table: s.table, Rows: n})
		if opts.DryRun || n == 0 {
			continue
		}
		if err := deleteWhere(ctx, conn, database, s.table, s.where); err != nil {
			return er, err
		}
		if s.table == "campaign_daily_agg" {
			if er.Rebuilt, err = rebuildCampaignDaily(ctx, conn, database, p, campaign); err != nil {
				return er, err
			}
		}
	}
	if opts.DryRun {
		return er, nil
	}
	if err := recordErasure(ctx, conn, database, er, opts); err != nil {
		return er, err
	}
	return er, nil
}

// participantTables lists database's MergeTree tables that hold rows per
// participant, events first.
func participantTables(ctx context.Context, conn driver.Conn, database string) ([]string, error) {
	db := quoteString(database)
	mergeTrees, err := strings1(ctx, conn, "SELECT name FROM system.tables WHERE database = "+db+" AND endsWith(engine, 'MergeTree')")
	if err != nil {
		return nil, fmt.Errorf("erasing: listing tables: %w", err)
	}
	keyed, err := strings1(ctx, conn, "SELECT table FROM system.columns WHERE database = "+db+
		" AND name IN ('platform', 'account_id', 'participant_id') GROUP BY table HAVING count() = 3")
	if err != nil {
		return nil, fmt.Errorf("erasing: listing tables: %w", err)
	}
	if !slices.Contains(mergeTrees, "erasures") {
		return nil, fmt.Errorf("erasing: database %s has no erasures table to record it in; start a sink of this version, which migrates, first", database)
	}
	var tables []string
	for _, t := range keyed {
		if slices.Contains(mergeTrees, t) && !slices.Contains(eraseKeeps, t) {
			tables = append(tables, t)
		}
	}
	sort.Slice(tables, func(i, j int) bool {
		if (tables[i] == "events") != (tables[j] == "events") {
			return tables[i] == "events"
		}
		return tables[i] < tables[j]
	})
	if len(tables) == 0 || tables[0] != "events" {
		return nil, fmt.Errorf("erasing: database %s has no events table; run the migrations first", database)
	}
	return tables, nil
}

// strings1 returns the first column of query's rows.
func strings1(ctx context.Context, conn driver.Conn, query string) ([]string, error) {
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// campaignKeys returns the (ref, day) tuples, as literals, of the person's
// events that campaign_daily_agg counted.
func campaignKeys(ctx context.Context, conn driver.Conn, database, person string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT assumeNotNull(referral_ref) AS ref, toString(`+campaignDay+`) AS day
		FROM `+database+`.events WHERE `+person+` AND isNotNull(referral_ref) ORDER BY day, ref`)
	if err != nil {
		return nil, fmt.Errorf("erasing: finding campaign rows: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var ref, day string
		if err := rows.Scan(&ref, &day); err != nil {
			return nil, fmt.Errorf("erasing: finding campaign rows: %w", err)
		}
		keys = append(keys, "("+quoteString(ref)+", toDate("+quoteString(day)+"))")
	}
	return keys, rows.Err()
}

// campaignDay is campaign_daily_mv's day of an event (0004_campaign_daily.sql).
const campaignDay = "toDate(toDateTime(intDiv(event_time_ms, 1000), 'UTC'), 'UTC')"

// rebuildCampaignDaily writes campaign_daily_agg's rows of the erased keys
// again from the events that remain, as campaign_daily_mv would have, and
// returns how many rows it wrote. Events inserted meanwhile are counted by
// both the view and this; uniqExact states absorb that.
func rebuildCampaignDaily(ctx context.Context, conn driver.Conn, database string, p Person, where string) (uint64, error) {
	src := `SELECT ` + campaignDay + ` AS day, platform, account_id, assumeNotNull(referral_ref) AS ref,
		ifNull(referral_source, '') AS source, kind, thread,
		uniqExactState(event_id) AS events_state, uniqExactState(participant_id) AS participants_state
		FROM ` + database + `.events
		WHERE platform = ` + quoteString(p.Platform) + ` AND account_id = ` + quoteString(p.AccountID) + ` AND isNotNull(referral_ref)
		GROUP BY day, platform, account_id, ref, source, kind, thread
		HAVING ` + where
	n, err := count(ctx, conn, "SELECT count() FROM ("+src+")")
	if err != nil {
		return 0, fmt.Errorf("erasing: counting campaign rows to rebuild: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	err = conn.Exec(ctx, "INSERT INTO "+database+".campaign_daily_agg (day, platform, account_id, ref, source, kind, thread, events_state, participants_state) "+src)
	if err != nil {
		return 0, fmt.Errorf("erasing: rebuilding campaign_daily_agg: %w", err)
	}
	return n, nil
}

// deleteWhere runs one ALTER TABLE ... DELETE and waits until it is done.
func deleteWhere(ctx context.Context, conn driver.Conn, database, table, where string) error {
	if err := conn.Exec(ctx, "ALTER TABLE "+database+"."+table+" DELETE WHERE "+where); err != nil {
		return fmt.Errorf("erasing from %s: %w", table, err)
	}
	if err := waitMutations(ctx, conn, database, table); err != nil {
		return fmt.Errorf("erasing from %s: %w", table, err)
	}
	return nil
}

// waitMutations waits until table has no unfinished mutation: ours, and any
// started before it.
func waitMutations(ctx context.Context, conn driver.Conn, database, table string) error {
	q := "SELECT count() FROM system.mutations WHERE database = " + quoteString(database) + " AND table = " + quoteString(table) + " AND is_done = 0"
	for {
		n, err := count(ctx, conn, q)
		if err != nil {
			return fmt.Errorf("waiting for the mutation: %w", err)
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the mutation (%d unfinished in system.mutations): %w", n, ctx.Err())
		case <-time.After(mutationPoll):
		}
	}
}

func count(ctx context.Context, conn driver.Conn, query string) (uint64, error) {
	var n uint64
	if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// idPattern is an RE2 pattern for id as the value of a JSON "id" or
// "user_ref" member.
func idPattern(id string) string {
	return `"(id|user_ref)"\s*:\s*"` + regexp.QuoteMeta(id) + `"`
}

func recordErasure(ctx context.Context, conn driver.Conn, database string, er Erasure, opts EraseOptions) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+".erasures (erased_at, platform, account_id, participant_id, tables, rows_removed, rows_rebuilt, requested_by, request)")
	if err != nil {
		return fmt.Errorf("recording the erasure: %w", err)
	}
	defer batch.Close()
	tables := make([]string, len(er.Removed))
	rows := make([]uint64, len(er.Removed))
	for i, r := range er.Removed {
		tables[i], rows[i] = r.Table, r.Rows
	}
	p := er.Person
	if err := batch.Append(er.At, p.Platform, p.AccountID, p.ParticipantID, tables, rows, er.Rebuilt, opts.RequestedBy, opts.Request); err != nil {
		return fmt.Errorf("recording the erasure: %w", err)
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("recording the erasure: %w", err)
	}
	return nil
}
