package chstore

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Settled funnel outcomes (migrations/0010_referral_outcomes.sql): a
// referral's stages are final once every event of the 7 days after it has
// arrived. Hours of referrals are settled into referral_outcomes after that,
// and settled again when a late event lands in their next 7 days.
const (
	// outcomeWindow is how long after a referral its stages can change: the
	// returned stage looks 7 days ahead.
	outcomeWindow = 7 * 24 * time.Hour
	// lateAfter is how long after its time an event may be stored without
	// counting as late; late_event_hours_mv marks the hours of the others
	// (its 600 s).
	lateAfter = 10 * time.Minute
	// settleSpan bounds the referrals one settling INSERT judges: its pass
	// reads their events and the 7 days after them.
	settleSpan = 14 * 24 * time.Hour
)

// settledBefore is the end of the hours whose referrals' outcomes are final
// at now: every hour that ended at least 7 days and 10 minutes before it.
func settledBefore(now time.Time) time.Time {
	return now.Add(-outcomeWindow - lateAfter).UTC().Truncate(time.Hour)
}

// SettleOutcomes makes sure the outcomes of the referrals in the whole hours
// that [from, to) touches, up to 7 days and 10 minutes ago, are settled and current:
// it judges the hours never settled, and those a late event may have changed
// since, from events, and records them. It returns how many hours it settled
// and the end of the range it vouches for (from when there is none). Store
// calls it before each funnel; the console also calls it in the background,
// so that a viewer rarely waits for it.
func (s *Store) SettleOutcomes(ctx context.Context, from, to time.Time) (int, time.Time, error) {
	start := from.UTC().Truncate(time.Hour)
	end := ceilHour(to.UTC())
	if final := settledBefore(s.now()); final.Before(end) {
		end = final
	}
	if !start.Before(end) {
		return 0, from, nil
	}
	// One settler at a time in this process: two funnels of the same
	// period would judge the same hours twice.
	s.settleMu.Lock()
	defer s.settleMu.Unlock()

	var serverNow time.Time
	if err := s.queries.QueryRow(ctx, "SELECT now()").Scan(&serverNow); err != nil {
		return 0, from, fmt.Errorf("settling funnel outcomes: reading the server's clock: %w", err)
	}
	// The server's clock says which events are late (late_event_hours_mv):
	// settle nothing it would not call final yet, should this host's clock
	// run ahead of it.
	if final := settledBefore(serverNow); final.Before(end) {
		end = final
	}
	if !start.Before(end) {
		return 0, from, nil
	}
	stale, err := s.staleHours(ctx, start, end)
	if err != nil {
		return 0, from, err
	}
	settled := 0
	for i := 0; i < len(stale); {
		// A run of consecutive hours, at most settleSpan long.
		j, replaces := i+1, stale[i].settled
		for j < len(stale) && stale[j].hour.Equal(stale[j-1].hour.Add(time.Hour)) && stale[j].hour.Sub(stale[i].hour) < settleSpan {
			replaces = replaces || stale[j].settled
			j++
		}
		if err := s.settleRun(ctx, stale[i].hour, stale[j-1].hour.Add(time.Hour), serverNow, replaces); err != nil {
			return settled, from, err
		}
		settled += j - i
		i = j
	}
	return settled, end, nil
}

// staleHour is an hour to settle; settled when an earlier version exists.
type staleHour struct {
	hour    time.Time
	settled bool
}

// staleHours lists the hours of [start, end) that were never settled, or were
// settled no later than a late event was marked in the hour or the 7 days
// after it: that event may have changed their referrals' stages.
func (s *Store) staleHours(ctx context.Context, start, end time.Time) ([]staleHour, error) {
	settledAt := map[time.Time]time.Time{}
	err := s.scanHours(ctx, "SELECT hour, max(settled_at) FROM referral_outcome_hours WHERE hour >= %s AND hour < %s GROUP BY hour",
		start, end, func(h, at time.Time) { settledAt[h] = at })
	if err != nil {
		return nil, fmt.Errorf("settling funnel outcomes: reading settled hours: %w", err)
	}
	type mark struct{ hour, at time.Time }
	var marks []mark
	err = s.scanHours(ctx, "SELECT hour, max(marked_at) FROM late_event_hours WHERE hour >= %s AND hour < %s GROUP BY hour ORDER BY hour",
		start, end.Add(outcomeWindow), func(h, at time.Time) { marks = append(marks, mark{h, at}) })
	if err != nil {
		return nil, fmt.Errorf("settling funnel outcomes: reading late events: %w", err)
	}
	var stale []staleHour
	for h := start; h.Before(end); h = h.Add(time.Hour) {
		at, ok := settledAt[h]
		if !ok {
			stale = append(stale, staleHour{hour: h})
			continue
		}
		// A referral of hour h ends its window before h + 1 h + 7 d, so
		// the events that judge it fall in the hours h to h + 7 d.
		for _, m := range marks {
			if !m.hour.Before(h) && !m.hour.After(h.Add(outcomeWindow)) && !m.at.Before(at) {
				stale = append(stale, staleHour{hour: h, settled: true})
				break
			}
		}
	}
	return stale, nil
}

// scanHours runs query, whose two %s are the bounds, and calls row for each
// (hour, time) it returns.
func (s *Store) scanHours(ctx context.Context, query string, from, to time.Time, row func(hour, at time.Time)) error {
	rows, err := s.queries.Query(ctx, fmt.Sprintf(query, dateTime(from), dateTime(to)))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var h, at time.Time
		if err := rows.Scan(&h, &at); err != nil {
			return err
		}
		row(h.UTC(), at.UTC())
	}
	return rows.Err()
}

// settleRun judges the referrals of the hours [start, end) from events and
// records those hours as settled at serverNow, under a new version; then,
// when some were settled before, it deletes the versions this one replaces.
func (s *Store) settleRun(ctx context.Context, start, end, serverNow time.Time, replaces bool) error {
	text, err := Query("referral_outcomes")
	if err != nil {
		return err
	}
	judged, err := BindQuery(text, map[string]any{"from_ms": start.UnixMilli(), "to_ms": end.UnixMilli()})
	if err != nil {
		return err
	}
	// Versions order settles by the server's clock, as settled_at and the
	// late marks are: by this host's, a console whose clock runs ahead
	// would have its older settle read instead of a newer one.
	version := strconv.FormatUint(uint64(serverNow.Unix())*1e9+uint64(time.Now().Nanosecond()), 10)
	hours := strconv.Itoa(int(end.Sub(start) / time.Hour))
	span := "hour >= " + dateTime(start) + " AND hour < " + dateTime(end)
	type step struct{ what, sql string }
	steps := []step{
		{"writing outcomes", "INSERT INTO referral_outcomes (hour, version, person, ref, referral_ms, conversed, answered, returned)" +
			" SELECT toStartOfHour(toDateTime(intDiv(referral_ms, 1000), 'UTC')), " + version +
			", person, ref, referral_ms, conversed, answered, returned FROM (" + judged + ")"},
		{"recording settled hours", "INSERT INTO referral_outcome_hours (hour, version, settled_at)" +
			" SELECT " + dateTime(start) + " + arrayJoin(range(" + hours + ")) * 3600, " + version + ", " + dateTime(serverNow)},
	}
	if replaces {
		// Readers take each hour's latest version, so the versions it
		// replaced are dead weight. A mutation rewrites parts: only for
		// hours a late event made stale, which are rare.
		steps = append(steps,
			step{"deleting replaced outcomes", "ALTER TABLE referral_outcomes DELETE WHERE " + span + " AND version < " + version},
			step{"deleting replaced hours", "ALTER TABLE referral_outcome_hours DELETE WHERE " + span + " AND version < " + version})
	}
	for _, st := range steps {
		if err := s.queries.Exec(ctx, st.sql); err != nil {
			return fmt.Errorf("settling funnel outcomes of %s to %s: %s: %w", start.Format(time.RFC3339), end.Format(time.RFC3339), st.what, err)
		}
	}
	return nil
}

// dateTime is t as a ClickHouse DateTime('UTC') expression.
func dateTime(t time.Time) string {
	return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ", 'UTC')"
}

func ceilHour(t time.Time) time.Time {
	if h := t.Truncate(time.Hour); h.Equal(t) {
		return h
	}
	return t.Truncate(time.Hour).Add(time.Hour)
}
