package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationAttributionEdges runs attribution.sql on the edges of its
// rules, which the story of TestIntegrationQueries does not reach: a gap of
// exactly 24 h, two messages in one millisecond, a referral in the same
// millisecond as the start, a referral long before the period, a message just
// before it, a referral after the start. Every event is inserted twice, as
// a redelivery would.
func TestIntegrationAttributionEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	msg := func(id, who string, at int64) event.Event { return withMID(ig(id, event.KindMessage, who, at, 100)) }
	ref := func(id, who string, at int64, r string) event.Event {
		return withReferral(ig(id, event.KindReferral, who, at, 100), event.ThreadExisting, r, "SHORTLINK")
	}
	evs := []event.Event{
		// A referral and a message in one millisecond: a start, credited.
		// The next message 24 h later exactly continues the conversation;
		// one 24 h and 1 ms after that one starts another, with a second
		// referral in its millisecond: first touch a-ref, last touch b-ref.
		ref("e1-r1", "edge-1", hour, "a-ref"),
		msg("e1-m1", "edge-1", hour),
		msg("e1-m2", "edge-1", hour+day),
		msg("e1-m3", "edge-1", hour+2*day+1),
		ref("e1-r2", "edge-1", hour+2*day+1, "b-ref"),
		// Two messages in one millisecond: the lesser event_id starts.
		msg("e2-a", "edge-2", 2*hour),
		msg("e2-b", "edge-2", 2*hour),
		// A referral 20 days before the period is still credited.
		ref("e3-r", "edge-3", -20*day, "c-ref"),
		msg("e3-m", "edge-3", 3*hour),
		// A message an hour before the period: the one an hour into it
		// continues that conversation.
		msg("e4-m0", "edge-4", -hour),
		msg("e4-m1", "edge-4", hour),
		// A referral after the start does not credit it.
		msg("e5-m", "edge-5", 4*hour),
		ref("e5-r", "edge-5", 5*hour, "d-ref"),
		// Two referrals before a start: first x-ref, last y-ref.
		ref("e6-r1", "edge-6", hour, "x-ref"),
		ref("e6-r2", "edge-6", 2*hour, "y-ref"),
		msg("e6-m", "edge-6", 3*hour),
	}
	for range 2 {
		if err := e.store.InsertEvents(ctx, evs, time.UnixMilli(t0+10*day)); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
	tests := []struct {
		name     string
		from, to int64
		want     [][]any
	}{
		{"five days", t0, t0 + 5*day, [][]any{
			// platform, account_id, ref, first_touch, last_touch. Starts:
			// e1-m1, e1-m3, e2-a, e3-m, e5-m, e6-m.
			{"INSTAGRAM", "ig-acct-1", "", int64(2), int64(2)},
			{"INSTAGRAM", "ig-acct-1", "a-ref", int64(2), int64(1)},
			{"INSTAGRAM", "ig-acct-1", "b-ref", int64(0), int64(1)},
			{"INSTAGRAM", "ig-acct-1", "c-ref", int64(1), int64(1)},
			{"INSTAGRAM", "ig-acct-1", "x-ref", int64(1), int64(0)},
			{"INSTAGRAM", "ig-acct-1", "y-ref", int64(0), int64(1)},
		}},
		{"from day 2: e1-m3 alone, its 24 h before the period looked at", t0 + 2*day, t0 + 5*day, [][]any{
			{"INSTAGRAM", "ig-acct-1", "a-ref", int64(1), int64(0)},
			{"INSTAGRAM", "ig-acct-1", "b-ref", int64(0), int64(1)},
		}},
		{"ending at e1-m3's millisecond, which is left out", t0 + 2*day, t0 + hour + 2*day + 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queryRows(t, e.conn, bind(t, "attribution", map[string]any{"from_ms": tt.from, "to_ms": tt.to}))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attribution (-want +got):\n%s", diff)
			}
		})
	}
}
