package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationErase erases one person from known data and checks every
// table's exact rows before and after: the person's events, participant row,
// dead letter and campaign counts are gone, the same participant id under
// another account and everyone else stay, the campaign rows they shared are
// rebuilt to count only the others, and the erasure is recorded.
func TestIntegrationErase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	day1 := time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
	day2 := day1 + 24*3600*1000
	ev := func(id, account, participant string, kind event.Kind, thread event.Thread, ref string, at int64) event.Event {
		e := event.Event{EventID: id, Platform: event.Instagram, Kind: kind, AccountID: account, ParticipantID: participant,
			EventTime: at, ReceivedTime: at + 100, Thread: thread}
		if ref != "" {
			e.Referral = &event.Referral{Ref: ref, Source: "SHORTLINKS", Type: "OPEN_THREAD"}
		}
		return e
	}
	erased := []event.Event{
		ev("h:1", "178", "910", event.KindReferral, event.ThreadExisting, "spring", day1),
		ev("m:1", "178", "910", event.KindMessage, event.ThreadNew, "spring", day1+1000),
		ev("m:2", "178", "910", event.KindMessage, event.ThreadUnknown, "", day2),
	}
	others := []event.Event{
		ev("h:3", "178", "911", event.KindReferral, event.ThreadExisting, "spring", day1+2000),
		ev("h:4", "178", "911", event.KindReferral, event.ThreadExisting, "bio", day2),
		ev("h:5", "179", "910", event.KindReferral, event.ThreadExisting, "spring", day1),
	}
	if err := e.store.InsertEvents(ctx, append(erased, others...), time.Now()); err != nil {
		t.Fatal(err)
	}
	// A redelivered copy, in a part of its own.
	if err := e.store.InsertEvents(ctx, erased[:1], time.Now()); err != nil {
		t.Fatal(err)
	}
	dl := func(offset int64, account, participant string) chstore.DeadLetter {
		return chstore.DeadLetter{RawTopic: "meta.webhooks.raw", RawOffset: offset, Reason: "missing_sender", Stage: "decode", ReceivedTime: day1,
			Payload: []byte(`{"object":"instagram","entry":[{"id":"` + account + `","messaging":[{"sender":{"id": "` + participant + `"},"timestamp":1}]}]}`)}
	}
	if err := e.store.InsertDeadLetters(ctx, []chstore.DeadLetter{dl(1, "178", "910"), dl(2, "178", "911"), dl(3, "179", "910"), dl(4, "178", "9100")}, time.Now()); err != nil {
		t.Fatal(err)
	}

	rows := func(table string) uint64 {
		t.Helper()
		var n uint64
		if err := e.conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The funnel settles its outcomes, which name people by a hash.
	if _, err := e.store.Funnel(ctx, time.UnixMilli(day1), time.UnixMilli(day2+1000), "ref"); err != nil {
		t.Fatal(err)
	}
	tables := []string{"events", "message_windows", "participant_state", "referral_outcomes", "campaign_daily_agg", "dead_letters"}
	counts := func() map[string]uint64 {
		m := map[string]uint64{}
		for _, tb := range tables {
			m[tb] = rows(tb)
		}
		return m
	}
	// Merged, so that no background merge changes the counts under the test:
	// the copy collapses, each aggregate key has one row.
	for _, tb := range tables {
		if err := e.conn.Exec(ctx, "OPTIMIZE TABLE "+tb+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	before := counts()
	// message_windows: a row per inbound event (all six are).
	wantBefore := map[string]uint64{"events": 6, "message_windows": 6, "participant_state": 3, "referral_outcomes": 5, "campaign_daily_agg": 4, "dead_letters": 4}
	if diff := cmp.Diff(wantBefore, before); diff != "" {
		t.Fatalf("rows before (-want +got):\n%s", diff)
	}
	person := chstore.Person{Platform: "INSTAGRAM", AccountID: "178", ParticipantID: "910"}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	wantRemoved := []chstore.TableRows{{"events", 3}, {"message_windows", 3}, {"participant_state", 1}, {"referral_outcomes", 2}, {"campaign_daily_agg", 2}, {"dead_letters", 1}}

	dry, err := chstore.Erase(ctx, e.conn, e.db, person, chstore.EraseOptions{DryRun: true, Now: at})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if diff := cmp.Diff(wantRemoved, dry.Removed); diff != "" || dry.Rebuilt != 0 {
		t.Errorf("dry run removes (-want +got):\n%s rebuilt %d", diff, dry.Rebuilt)
	}
	if diff := cmp.Diff(before, counts()); diff != "" || rows("erasures") != 0 {
		t.Fatalf("a dry run changed rows (-before +after):\n%s", diff)
	}

	er, err := chstore.Erase(ctx, e.conn, e.db, person, chstore.EraseOptions{RequestedBy: "dpo@example.com", Request: "abc123", Now: at})
	if err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if diff := cmp.Diff(wantRemoved, er.Removed); diff != "" || er.Rebuilt != 1 {
		t.Errorf("Erase removed (-want +got):\n%s rebuilt %d, want 1", diff, er.Rebuilt)
	}
	// campaign_daily_agg: 4 - 2 removed + 1 rebuilt (the other person's
	// referral of the same ref and day).
	wantAfter := map[string]uint64{"events": 3, "message_windows": 3, "participant_state": 2, "referral_outcomes": 3, "campaign_daily_agg": 3, "dead_letters": 3}
	if diff := cmp.Diff(wantAfter, counts()); diff != "" {
		t.Errorf("rows after (-want +got):\n%s", diff)
	}

	// The aggregates read as if the person had never written.
	funnel, err := e.store.Funnel(ctx, time.UnixMilli(day1), time.UnixMilli(day2+1000), "ref")
	if err != nil {
		t.Fatal(err)
	}
	wantFunnel := []chstore.FunnelRow{{Name: "spring", Referrals: 2, Participants: 2}, {Name: "bio", Referrals: 1, Participants: 1}}
	if diff := cmp.Diff(wantFunnel, funnel); diff != "" {
		t.Errorf("funnel after (-want +got):\n%s", diff)
	}
	type campaignRow struct {
		Account, Ref, Day, Kind, Thread string
		Events, Participants            uint64
	}
	var campaign []campaignRow
	r, err := e.conn.Query(ctx, "SELECT account_id, ref, toString(day), kind, thread, events, participants FROM campaign_daily ORDER BY account_id, day, ref, kind, thread")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c campaignRow
		if err := r.Scan(&c.Account, &c.Ref, &c.Day, &c.Kind, &c.Thread, &c.Events, &c.Participants); err != nil {
			t.Fatal(err)
		}
		campaign = append(campaign, c)
	}
	r.Close()
	wantCampaign := []campaignRow{
		{"178", "spring", "2025-11-20", "REFERRAL", "EXISTING", 1, 1},
		{"178", "bio", "2025-11-21", "REFERRAL", "EXISTING", 1, 1},
		{"179", "spring", "2025-11-20", "REFERRAL", "EXISTING", 1, 1},
	}
	if diff := cmp.Diff(wantCampaign, campaign); diff != "" {
		t.Errorf("campaign_daily after (-want +got):\n%s", diff)
	}
	var people []string
	r, err = e.conn.Query(ctx, "SELECT concat(account_id, ':', participant_id, ':', latest_ref) FROM participants ORDER BY account_id, participant_id")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var p string
		if err := r.Scan(&p); err != nil {
			t.Fatal(err)
		}
		people = append(people, p)
	}
	r.Close()
	if diff := cmp.Diff([]string{"178:911:bio", "179:910:spring"}, people); diff != "" {
		t.Errorf("participants after (-want +got):\n%s", diff)
	}

	var (
		erasedAt                  time.Time
		who, request, participant string
		tbls                      []string
		removed                   []uint64
		rebuilt                   uint64
	)
	if err := e.conn.QueryRow(ctx, "SELECT erased_at, participant_id, tables, rows_removed, rows_rebuilt, requested_by, request FROM erasures").
		Scan(&erasedAt, &participant, &tbls, &removed, &rebuilt, &who, &request); err != nil {
		t.Fatal(err)
	}
	if !erasedAt.Equal(at) || participant != "910" || who != "dpo@example.com" || request != "abc123" || rebuilt != 1 ||
		!cmp.Equal(tbls, tables) || !cmp.Equal(removed, []uint64{3, 3, 1, 2, 2, 1}) {
		t.Errorf("erasures row = %v %s %v %v %d %s %s", erasedAt, participant, tbls, removed, rebuilt, who, request)
	}
}
