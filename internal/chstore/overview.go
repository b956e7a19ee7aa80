package chstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DayReferrals is one calendar day of ReferralsPerDay.
type DayReferrals struct {
	// Day is midnight of the day in the requested location.
	Day time.Time
	// Referrals counts the events that carried a referral; Participants the
	// distinct people they came from.
	Referrals, Participants uint64
}

// ReferralsPerDay counts the referral-bearing events with from <= event time <
// to per calendar day in loc (nil: UTC), one row for every day the period
// touches, days without referrals included, oldest first. loc must be an IANA
// zone (time.LoadLocation's names); time.Local is refused, since the server
// cannot know what it stands for.
func (s *Store) ReferralsPerDay(ctx context.Context, from, to time.Time, loc *time.Location) ([]DayReferrals, error) {
	if loc == nil {
		loc = time.UTC
	}
	if loc == time.Local || loc.String() == "Local" {
		return nil, fmt.Errorf("referrals per day: name a time zone, not Local")
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("referrals per day: period [%s, %s) is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	counts := map[string]DayReferrals{}
	err := s.each(ctx, "referrals_per_day", map[string]any{"from_ms": from.UnixMilli(), "to_ms": to.UnixMilli(), "tz": loc.String()}, 0, func(rows driver.Rows) error {
		var (
			day time.Time
			d   DayReferrals
		)
		if err := rows.Scan(&day, &d.Referrals, &d.Participants); err != nil {
			return err
		}
		counts[day.Format(time.DateOnly)] = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []DayReferrals
	last := to.Add(-time.Millisecond).In(loc)
	for d := midnight(from.In(loc)); !d.After(last); d = midnight(d.AddDate(0, 0, 1)) {
		c := counts[d.Format(time.DateOnly)]
		c.Day = d
		out = append(out, c)
	}
	return out, nil
}

// midnight is the start of t's day in t's location.
func midnight(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// TopCampaigns ranks the funnel of the referrals with from <= event time < to
// by (links catalog campaign, "(uncataloged)" for refs it lacks; see Funnel),
// by conversion (ConversedRate), then referrals, then name, and returns the
// first n (all when n <= 0).
func (s *Store) TopCampaigns(ctx context.Context, from, to time.Time, n int) ([]FunnelRow, error) {
	rows, err := s.Funnel(ctx, from, to, "campaign")
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.ConversedRate != b.ConversedRate {
			return a.ConversedRate > b.ConversedRate
		}
		if a.Referrals != b.Referrals {
			return a.Referrals > b.Referrals
		}
		return a.Name < b.Name
	})
	if n > 0 && len(rows) > n {
		rows = rows[:n]
	}
	return rows, nil
}

// MinuteHealth is one minute of receipt: how many events arrived and how late.
type MinuteHealth struct {
	Minute time.Time
	Events uint64
	// DelayP50 to P99: Meta's event time to ingest's receipt, in ms.
	DelayP50, DelayP90, DelayP99 int64
	// FreshnessP50 to P99: ingest's receipt to the ClickHouse insert, in
	// whole seconds.
	FreshnessP50, FreshnessP90, FreshnessP99 int64
}

// DeadLetterCount is how many raw records were dead-lettered for a reason at a
// stage.
type DeadLetterCount struct {
	Reason, Stage string
	DeadLetters   uint64
}

// PipelineHealth is the overview's pipeline panel for a period.
type PipelineHealth struct {
	// Minutes are the minutes of the period in which events were first
	// received, oldest first (pipeline_health.sql).
	Minutes []MinuteHealth
	// DeadLetters counts the raw records received in the period that were
	// dead-lettered, by reason then stage.
	DeadLetters []DeadLetterCount
	// LastReceivedAt and LastInsertedAt are the newest event's receipt and
	// insert, whatever the period (zero when nothing is stored): now minus
	// them is the pipeline's freshness.
	LastReceivedAt, LastInsertedAt time.Time
}

// PipelineHealth reads events per minute with their delays, dead letters per
// reason and stage, for the events and raw records received with from <=
// receipt < to, and the newest receipt and insert.
func (s *Store) PipelineHealth(ctx context.Context, from, to time.Time) (PipelineHealth, error) {
	var h PipelineHealth
	err := s.each(ctx, "pipeline_health", period(from, to), 0, func(rows driver.Rows) error {
		var m MinuteHealth
		if err := rows.Scan(&m.Minute, &m.Events, &m.DelayP50, &m.DelayP90, &m.DelayP99, &m.FreshnessP50, &m.FreshnessP90, &m.FreshnessP99); err != nil {
			return err
		}
		m.Minute = m.Minute.UTC()
		h.Minutes = append(h.Minutes, m)
		return nil
	})
	if err != nil {
		return PipelineHealth{}, err
	}
	err = s.each(ctx, "dead_letter_counts", period(from, to), 0, func(rows driver.Rows) error {
		var d DeadLetterCount
		if err := rows.Scan(&d.Reason, &d.Stage, &d.DeadLetters); err != nil {
			return err
		}
		h.DeadLetters = append(h.DeadLetters, d)
		return nil
	})
	if err != nil {
		return PipelineHealth{}, err
	}
	var receivedMs, insertedS int64
	err = s.each(ctx, "pipeline_latest", nil, 0, func(rows driver.Rows) error {
		return rows.Scan(&receivedMs, &insertedS)
	})
	if err != nil {
		return PipelineHealth{}, err
	}
	h.LastReceivedAt = utcMs(receivedMs)
	if insertedS != 0 {
		h.LastInsertedAt = time.Unix(insertedS, 0).UTC()
	}
	return h, nil
}

// period binds the from_ms and to_ms parameters of a query.
func period(from, to time.Time) map[string]any {
	return map[string]any{"from_ms": from.UnixMilli(), "to_ms": to.UnixMilli()}
}
