package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationOverview reads the overview of the query tests' data set
// (dataSet), with its duplicates, and dead letters, some inserted twice.
func TestIntegrationOverview(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	data := append(dataSet(), duplicates(dataSet())...)
	for _, d := range data {
		if err := e.store.InsertEvents(ctx, []event.Event{d.ev}, d.insertedAt()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
	dead := []chstore.DeadLetter{
		{RawTopic: "raw", RawPartition: 0, RawOffset: 1, Reason: "invalid_json", Stage: "enrich", ReceivedTime: t0 + hour},
		{RawTopic: "raw", RawPartition: 0, RawOffset: 2, Reason: "invalid_json", Stage: "enrich", ReceivedTime: t0 + 2*hour},
		{RawTopic: "raw", RawPartition: 1, RawOffset: 2, Reason: "missing_sender", Stage: "enrich", ReceivedTime: t0 + 3*hour},
		{RawTopic: "events", RawPartition: 0, RawOffset: 9, Reason: "invalid_timestamp", Stage: "sink", ReceivedTime: t0 + 4*hour},
		// Received after the period.
		{RawTopic: "raw", RawPartition: 0, RawOffset: 3, Reason: "invalid_json", Stage: "enrich", ReceivedTime: t0 + 2*day},
	}
	for range 2 {
		if err := e.store.InsertDeadLetters(ctx, dead, time.UnixMilli(t0+day)); err != nil {
			t.Fatalf("InsertDeadLetters: %v", err)
		}
	}
	from, to := time.UnixMilli(t0).UTC(), time.UnixMilli(t0+5*day).UTC()

	t.Run("referrals per day", func(t *testing.T) {
		newYork, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Skipf("no time zone data: %v", err)
		}
		ny := func(d int) time.Time { return time.Date(2024, 3, d, 0, 0, 0, 0, newYork) }
		tests := []struct {
			name     string
			from, to time.Time
			loc      *time.Location
			want     []chstore.DayReferrals
		}{
			{
				name: "UTC", from: from, to: to, loc: time.UTC,
				want: []chstore.DayReferrals{
					// m1, r-p2-1, r-p2-2, r-p5-1, m6 of igsid-1, igsid-2, igsid-5, psid-3
					{Day: date(2024, 3, 10), Referrals: 5, Participants: 4},
					{Day: date(2024, 3, 11)},
					{Day: date(2024, 3, 12)},
					{Day: date(2024, 3, 13), Referrals: 1, Participants: 1},
					{Day: date(2024, 3, 14), Referrals: 2, Participants: 2},
				},
			},
			{
				// t0 is 7 pm on the 9th in New York (UTC-5 until 2 am on the
				// 10th, then UTC-4): r-p2-2 at 5 h is midnight of the 10th.
				name: "New York", from: ny(9), to: ny(14), loc: newYork,
				want: []chstore.DayReferrals{
					{Day: ny(9), Referrals: 4, Participants: 4},
					{Day: ny(10), Referrals: 1, Participants: 1},
					{Day: ny(11)},
					{Day: ny(12), Referrals: 1, Participants: 1},
					{Day: ny(13), Referrals: 2, Participants: 2},
				},
			},
			{
				name: "part of a day", from: time.UnixMilli(t0 + hour).UTC(), to: time.UnixMilli(t0 + 2*hour).UTC(), loc: nil,
				// r-p2-1, r-p5-1; m6 at 2 h is outside.
				want: []chstore.DayReferrals{{Day: date(2024, 3, 10), Referrals: 2, Participants: 2}},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.store.ReferralsPerDay(ctx, tt.from, tt.to, tt.loc)
				if err != nil {
					t.Fatalf("ReferralsPerDay: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ReferralsPerDay (-want +got):\n%s", diff)
				}
			})
		}
		if _, err := e.store.ReferralsPerDay(ctx, from, to, time.Local); err == nil {
			t.Errorf("ReferralsPerDay in time.Local: no error")
		}
	})

	t.Run("top campaigns", func(t *testing.T) {
		got, err := e.store.TopCampaigns(ctx, from, to, 2)
		if err != nil {
			t.Fatalf("TopCampaigns: %v", err)
		}
		// The catalog is empty: every ref rolls up as uncataloged, the
		// funnel test's rows added up (5 people; 5 of 8 referrals conversed).
		want := []chstore.FunnelRow{{
			Name: chstore.Uncataloged, Referrals: 8, Participants: 5, Conversed: 5, Answered: 3, Returned: 2,
			ConversedRate: 5.0 / 8, AnsweredRate: 3.0 / 5, ReturnedRate: 2.0 / 3,
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("TopCampaigns (-want +got):\n%s", diff)
		}
	})

	t.Run("pipeline health", func(t *testing.T) {
		got, err := e.store.PipelineHealth(ctx, time.UnixMilli(t0+hour), time.UnixMilli(t0+hour+2*minute))
		if err != nil {
			t.Fatalf("PipelineHealth: %v", err)
		}
		want := chstore.PipelineHealth{
			// As pipeline_health's test: m2, r-p5-1, r-p2-1, not r-p2-1's redelivery.
			Minutes: []chstore.MinuteHealth{{
				Minute: time.UnixMilli(t0 + hour).UTC(), Events: 3,
				DelayP50: 700, DelayP90: 1500, DelayP99: 1500, FreshnessP50: 2, FreshnessP90: 3, FreshnessP99: 3,
			}},
			// Only the dead letter received at t0 + 1 h.
			DeadLetters: []chstore.DeadLetterCount{{Reason: "invalid_json", Stage: "enrich", DeadLetters: 1}},
			// m20 (4 d 105 min, received 100 ms later) is the newest receipt,
			// and its insert, in the same second, the newest insert.
			LastReceivedAt: time.UnixMilli(t0 + 4*day + 105*minute + 100).UTC(),
			LastInsertedAt: time.UnixMilli(t0 + 4*day + 105*minute + 100).Truncate(time.Second).UTC(),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PipelineHealth (-want +got):\n%s", diff)
		}
		day1, err := e.store.PipelineHealth(ctx, from, time.UnixMilli(t0+day))
		if err != nil {
			t.Fatalf("PipelineHealth: %v", err)
		}
		wantDead := []chstore.DeadLetterCount{
			{Reason: "invalid_json", Stage: "enrich", DeadLetters: 2},
			{Reason: "invalid_timestamp", Stage: "sink", DeadLetters: 1},
			{Reason: "missing_sender", Stage: "enrich", DeadLetters: 1},
		}
		if diff := cmp.Diff(wantDead, day1.DeadLetters); diff != "" {
			t.Errorf("PipelineHealth dead letters of the first day (-want +got):\n%s", diff)
		}
	})
}
