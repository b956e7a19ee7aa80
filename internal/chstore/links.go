package chstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/links"
)

// The Store is the catalog links.Create works on.
var _ links.Catalog = (*Store)(nil)

var linkColumns = []string{
	"ref", "platform", "account_id", "handle", "kind", "url",
	"campaign", "channel", "medium", "variant", "note",
	"created_at", "archived", "version",
}

// latestLinks selects the latest version of every ref of the catalog, in
// linkColumns order but version: see the links migration.
const latestLinks = `SELECT ref,
    argMax(platform, version), argMax(account_id, version), argMax(handle, version),
    argMax(kind, version), argMax(url, version), argMax(campaign, version),
    argMax(channel, version), argMax(medium, version), argMax(variant, version),
    argMax(note, version), argMax(created_at, version), argMax(archived, version)
FROM %s.links %s
GROUP BY ref`

// InsertLink writes l as the newest version of its ref (one INSERT): a new
// link, or a change of one, archiving included. created_at is stored at second
// precision. It does not check that the ref is free: callers that create links
// look the ref up first (Link), which leaves a race between two creators of
// one ref that the later write wins.
func (s *Store) InsertLink(ctx context.Context, l links.Link) error {
	version := uint64(time.Now().UnixNano())
	var archived uint8
	if l.Archived {
		archived = 1
	}
	values := []any{
		[]string{l.Ref}, []string{string(l.Platform)}, []string{l.AccountID}, []string{l.Handle},
		[]string{string(l.Kind)}, []string{l.URL}, []string{l.Campaign}, []string{l.Channel},
		[]string{l.Medium}, []string{l.Variant}, []string{l.Note},
		[]time.Time{l.CreatedAt.UTC()}, []uint8{archived}, []uint64{version},
	}
	if err := s.insertColumns(ctx, "links", linkColumns, values); err != nil {
		return fmt.Errorf("inserting link %q: %w", l.Ref, err)
	}
	return nil
}

// Link returns the latest version of ref, archived or not; ok is false when
// the catalog has no such ref.
func (s *Store) Link(ctx context.Context, ref string) (l links.Link, ok bool, err error) {
	ls, err := s.queryLinks(ctx, fmt.Sprintf(latestLinks, s.database, "WHERE ref = "+quoteString(ref)))
	if err != nil {
		return links.Link{}, false, fmt.Errorf("reading link %q: %w", ref, err)
	}
	if len(ls) == 0 {
		return links.Link{}, false, nil
	}
	return ls[0], true, nil
}

// LinkFilter selects links for Links.
type LinkFilter struct {
	// Campaign, when set, keeps the links of that campaign only.
	Campaign string
	// Archived includes archived links; by default they are left out.
	Archived bool
	// Limit (at most MaxLinksPage; 0 means MaxLinksPage) and Offset page
	// through the links, newest first (then by ref).
	Limit, Offset int
}

// MaxLinksPage caps one page of Links.
const MaxLinksPage = 500

// Links returns the latest version of the links f selects, newest first.
func (s *Store) Links(ctx context.Context, f LinkFilter) ([]links.Link, error) {
	if f.Limit <= 0 || f.Limit > MaxLinksPage {
		f.Limit = MaxLinksPage
	}
	if f.Offset < 0 {
		f.Offset = 0
	}
	having := "HAVING 1"
	if !f.Archived {
		having += " AND argMax(archived, version) = 0"
	}
	if f.Campaign != "" {
		having += " AND argMax(campaign, version) = " + quoteString(f.Campaign)
	}
	q := fmt.Sprintf(latestLinks, s.database, "") + "\n" + having +
		fmt.Sprintf("\nORDER BY argMax(created_at, version) DESC, ref\nLIMIT %d, %d", f.Offset, f.Limit)
	ls, err := s.queryLinks(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	return ls, nil
}

func (s *Store) queryLinks(ctx context.Context, q string) ([]links.Link, error) {
	rows, err := s.conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []links.Link
	for rows.Next() {
		var (
			l              links.Link
			platform, kind string
			archived       uint8
		)
		if err := rows.Scan(&l.Ref, &platform, &l.AccountID, &l.Handle, &kind, &l.URL, &l.Campaign,
			&l.Channel, &l.Medium, &l.Variant, &l.Note, &l.CreatedAt, &archived); err != nil {
			return nil, err
		}
		l.Platform, l.Kind, l.Archived = links.Platform(platform), links.Kind(kind), archived == 1
		l.CreatedAt = l.CreatedAt.UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// FunnelRow is one group of the campaign funnel (queries/funnel_by.sql).
type FunnelRow struct {
	// Name is the campaign, channel or ref grouped by; "(uncataloged)" for
	// refs the catalog does not have, when grouping by campaign or channel.
	Name                                                   string
	Referrals, Participants, Conversed, Answered, Returned uint64
	// ConversedRate is Conversed/Referrals, AnsweredRate Answered/Conversed,
	// ReturnedRate Returned/Answered; 0 when the denominator is.
	ConversedRate, AnsweredRate, ReturnedRate float64
}

// FunnelGroups are the groupings Funnel accepts.
var FunnelGroups = []string{"campaign", "channel", "ref"}

// Uncataloged names the campaign and channel of refs missing from the catalog.
const Uncataloged = "(uncataloged)"

// Funnel runs queries/funnel_by.sql for the referrals of [from, to), grouped
// by "campaign", "channel" or "ref". The referrals of hours that ended over 7
// days ago are read from their settled outcomes, settled first when needed
// (SettleOutcomes); the newer ones are judged from events.
func (s *Store) Funnel(ctx context.Context, from, to time.Time, by string) ([]FunnelRow, error) {
	if !slices.Contains(FunnelGroups, by) {
		return nil, fmt.Errorf("running the funnel: by %q: must be campaign, channel or ref", by)
	}
	_, settledTo, err := s.SettleOutcomes(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("running the funnel: %w", err)
	}
	params := byParams(from, to, by)
	params["settled_to_ms"] = settledTo.UnixMilli()
	var out []FunnelRow
	err = s.each(ctx, "funnel_by", params, 0, func(rows driver.Rows) error {
		var r FunnelRow
		if err := rows.Scan(&r.Name, &r.Referrals, &r.Participants, &r.Conversed, &r.Answered, &r.Returned,
			&r.ConversedRate, &r.AnsweredRate, &r.ReturnedRate); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// AttributionRow is one group of queries/attribution_by.sql: the new
// conversations credited to it first-touch and last-touch.
type AttributionRow struct {
	// Name is the campaign, channel or ref grouped by; "(no referral)" for
	// conversations no referral preceded, "(uncataloged)" for refs the
	// catalog does not have when grouping by campaign or channel.
	Name                  string
	FirstTouch, LastTouch uint64
}

// NoReferral names the group of conversations that no referral preceded.
const NoReferral = "(no referral)"

// Attribution runs queries/attribution_by.sql for the conversations that
// start in [from, to), grouped by "campaign", "channel" or "ref".
func (s *Store) Attribution(ctx context.Context, from, to time.Time, by string) ([]AttributionRow, error) {
	if !slices.Contains(FunnelGroups, by) {
		return nil, fmt.Errorf("running the attribution: by %q: must be campaign, channel or ref", by)
	}
	var out []AttributionRow
	err := s.each(ctx, "attribution_by", byParams(from, to, by), 0, func(rows driver.Rows) error {
		var r AttributionRow
		if err := rows.Scan(&r.Name, &r.FirstTouch, &r.LastTouch); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// DailyRow is one day of one group of queries/referrals_daily_by.sql.
type DailyRow struct {
	Day       time.Time // midnight UTC
	Name      string
	Referrals uint64
}

// ReferralsDaily runs queries/referrals_daily_by.sql for the referrals of
// [from, to), per UTC day and per "campaign", "channel" or "ref".
func (s *Store) ReferralsDaily(ctx context.Context, from, to time.Time, by string) ([]DailyRow, error) {
	if !slices.Contains(FunnelGroups, by) {
		return nil, fmt.Errorf("counting referrals per day: by %q: must be campaign, channel or ref", by)
	}
	var out []DailyRow
	err := s.each(ctx, "referrals_daily_by", byParams(from, to, by), 0, func(rows driver.Rows) error {
		var r DailyRow
		if err := rows.Scan(&r.Day, &r.Name, &r.Referrals); err != nil {
			return err
		}
		r.Day = r.Day.UTC()
		out = append(out, r)
		return nil
	})
	return out, err
}

// byParams binds the period and grouping the *_by.sql queries take.
func byParams(from, to time.Time, by string) map[string]any {
	return map[string]any{"from_ms": from.UnixMilli(), "to_ms": to.UnixMilli(), "by": by}
}
