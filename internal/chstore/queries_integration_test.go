package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/event"
)

// The data set of the query tests. Times are offsets from t0, a Sunday.
var t0 = time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()

const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// datum is one event of the data set and how long after its receipt it was
// inserted, in whole seconds (its freshness).
type datum struct {
	ev    event.Event
	fresh int64
}

func (d datum) insertedAt() time.Time { return time.UnixMilli(d.ev.ReceivedTime + d.fresh*second) }

// ig and ms build events of the two business accounts: Instagram account
// ig-acct-1 and Messenger page page-1. delay is the Meta delivery delay in ms.
func ig(id string, kind event.Kind, participant string, at, delay int64) event.Event {
	return event.Event{
		EventID: id, Platform: event.Instagram, Kind: kind, AccountID: "ig-acct-1", ParticipantID: participant,
		EventTime: t0 + at, ReceivedTime: t0 + at + delay, Thread: event.ThreadUnknown,
		RawPartition: 1, RawOffset: at / second,
	}
}

func ms(id string, kind event.Kind, participant string, at, delay int64) event.Event {
	e := ig(id, kind, participant, at, delay)
	e.Platform, e.AccountID = event.Messenger, "page-1"
	return e
}

func withReferral(e event.Event, thread event.Thread, ref, source string) event.Event {
	e.Thread = thread
	e.Referral = &event.Referral{Ref: ref, Source: source, Type: "OPEN_THREAD"}
	if source == "ADS" {
		e.Referral.AdID = ptr("ad-9")
		e.Referral.AdsContext = &event.AdsContext{AdTitle: ptr("Spring sale")}
	}
	return e
}

func withMID(e event.Event) event.Event {
	e.MessageID = ptr(e.EventID)
	return e
}

// dataSet is the story the query tests expect numbers of:
//
//	igsid-1  spring link opens a thread with a message, a reply, a message 2 days later
//	igsid-2  spring ad (twice) on an existing thread, a message only after 30 h
//	igsid-5  spring link, message, reply; 4 days later a summer link and a message
//	igsid-6  winter link just before "now", then a reply
//	psid-3   summer Get Started, a message; 3 days later an autumn link, message, reply
//	psid-4   an opt-in, a message, never a referral
func dataSet() []datum {
	return []datum{
		{ev: withMID(withReferral(ig("m1", event.KindMessage, "igsid-1", 0, 300), event.ThreadNew, "spring", "SHORTLINK"))},
		{ev: withMID(ig("m2", event.KindEcho, "igsid-1", hour, 200)), fresh: 1},
		{ev: withMID(ig("m3", event.KindMessage, "igsid-1", 2*day, 400))},

		{ev: withReferral(ig("r-p2-1", event.KindReferral, "igsid-2", hour, 1500), event.ThreadExisting, "spring", "ADS"), fresh: 3},
		{ev: withReferral(ig("r-p2-2", event.KindReferral, "igsid-2", 5*hour, 100), event.ThreadExisting, "spring", "ADS")},
		{ev: withMID(ig("m5", event.KindMessage, "igsid-2", 30*hour, 100))},

		{ev: withReferral(ig("r-p5-1", event.KindReferral, "igsid-5", hour, 700), event.ThreadExisting, "spring", "SHORTLINK"), fresh: 2},
		{ev: withMID(ig("m15", event.KindMessage, "igsid-5", 2*hour, 100))},
		{ev: withMID(ig("m16", event.KindEcho, "igsid-5", 3*hour, 100))},
		{ev: withReferral(ig("r-p5-2", event.KindReferral, "igsid-5", 4*day, 100), event.ThreadExisting, "summer", "SHORTLINK")},
		{ev: withMID(ig("m18", event.KindMessage, "igsid-5", 4*day+hour, 100))},

		{ev: withReferral(ig("r-p6-1", event.KindReferral, "igsid-6", 4*day+90*minute, 100), event.ThreadExisting, "winter", "SHORTLINK")},
		{ev: withMID(ig("m20", event.KindEcho, "igsid-6", 4*day+105*minute, 100))},

		{ev: func() event.Event {
			e := withMID(withReferral(ms("m6", event.KindPostback, "psid-3", 2*hour, 100), event.ThreadNew, "summer", "SHORTLINK"))
			e.PostbackTitle, e.PostbackPayload = ptr("Get Started"), ptr("GET_STARTED")
			return e
		}()},
		{ev: withMID(ms("m7", event.KindMessage, "psid-3", 2*hour+5*minute, 100))},
		{ev: withReferral(ms("r-p3-2", event.KindReferral, "psid-3", 3*day, 100), event.ThreadExisting, "autumn", "SHORTLINK")},
		{ev: withMID(ms("m10", event.KindMessage, "psid-3", 3*day+10*minute, 100))},
		{ev: withMID(ms("m11", event.KindEcho, "psid-3", 3*day+20*minute, 100))},

		{ev: func() event.Event {
			e := ms("o12", event.KindOptin, "psid-4", 5*hour, 100)
			e.Optin = &event.Optin{Type: "notification_messages", Topic: ptr("deals"), Frequency: ptr("DAILY")}
			return e
		}()},
		{ev: withMID(ms("m13", event.KindMessage, "psid-4", 6*hour, 100))},
	}
}

// duplicates are what at-least-once delivery adds to the data set: Meta
// redeliveries of two events (received later, from other raw records).
func duplicates(data []datum) []datum {
	var dups []datum
	for _, d := range data {
		if d.ev.EventID == "m1" || d.ev.EventID == "r-p2-1" {
			d.ev.ReceivedTime += 90 * second
			d.ev.RawPartition, d.ev.RawOffset = 3, d.ev.RawOffset+1000
			dups = append(dups, d)
		}
	}
	return dups
}

func TestIntegrationQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	// Merges would collapse the duplicates this test is about; with merges
	// stopped they stay until OPTIMIZE, so the queries must cope with them.
	for _, table := range []string{"events", "participant_state", "message_windows", "campaign_daily_agg"} {
		if err := e.conn.Exec(ctx, "SYSTEM STOP MERGES "+e.db+"."+table); err != nil {
			t.Fatalf("stopping merges: %v", err)
		}
	}

	data := dataSet()
	var all []event.Event
	for _, d := range data {
		// One insert per event, as its freshness says when it was inserted.
		if err := e.store.InsertEvents(ctx, []event.Event{d.ev}, d.insertedAt()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
		all = append(all, d.ev)
	}

	tests := []struct {
		name   string
		query  string
		params map[string]any
		want   [][]any
	}{
		{
			name:   "funnel over five days",
			query:  "funnel",
			params: map[string]any{"from_ms": t0, "to_ms": t0 + 5*day},
			want: [][]any{
				// platform, account_id, ref, referrals, participants, conversed, answered, returned
				{"INSTAGRAM", "ig-acct-1", "spring", int64(4), int64(3), int64(2), int64(2), int64(2)},
				{"INSTAGRAM", "ig-acct-1", "summer", int64(1), int64(1), int64(1), int64(0), int64(0)},
				{"INSTAGRAM", "ig-acct-1", "winter", int64(1), int64(1), int64(0), int64(0), int64(0)},
				{"MESSENGER", "page-1", "autumn", int64(1), int64(1), int64(1), int64(1), int64(0)},
				{"MESSENGER", "page-1", "summer", int64(1), int64(1), int64(1), int64(0), int64(0)},
			},
		},
		{
			name:   "funnel over the first day",
			query:  "funnel",
			params: map[string]any{"from_ms": t0, "to_ms": t0 + day},
			want: [][]any{
				{"INSTAGRAM", "ig-acct-1", "spring", int64(4), int64(3), int64(2), int64(2), int64(2)},
				{"MESSENGER", "page-1", "summer", int64(1), int64(1), int64(1), int64(0), int64(0)},
			},
		},
		{
			name:   "funnel of a period without referrals",
			query:  "funnel",
			params: map[string]any{"from_ms": t0 + 10*day, "to_ms": t0 + 11*day},
		},
		{
			name:   "attribution over five days",
			query:  "attribution",
			params: map[string]any{"from_ms": t0, "to_ms": t0 + 5*day},
			want: [][]any{
				// platform, account_id, ref, first_touch, last_touch
				{"INSTAGRAM", "ig-acct-1", "spring", int64(5), int64(4)},
				{"INSTAGRAM", "ig-acct-1", "summer", int64(0), int64(1)},
				{"MESSENGER", "page-1", "", int64(1), int64(1)},
				{"MESSENGER", "page-1", "autumn", int64(0), int64(1)},
				{"MESSENGER", "page-1", "summer", int64(2), int64(1)},
			},
		},
		{
			name:   "attribution from day 2: earlier referrals still credited",
			query:  "attribution",
			params: map[string]any{"from_ms": t0 + 2*day, "to_ms": t0 + 5*day},
			want: [][]any{
				// m3 (igsid-1), m18 (igsid-5), m10 (psid-3)
				{"INSTAGRAM", "ig-acct-1", "spring", int64(2), int64(1)},
				{"INSTAGRAM", "ig-acct-1", "summer", int64(0), int64(1)},
				{"MESSENGER", "page-1", "autumn", int64(0), int64(1)},
				{"MESSENGER", "page-1", "summer", int64(1), int64(0)},
			},
		},
		{
			name:   "open windows",
			query:  "open_windows",
			params: map[string]any{"now_ms": t0 + 4*day + 2*hour},
			want: [][]any{
				// platform, account_id, participant_id, window_kind, expires_ms, window_left_ms,
				// last_inbound_ms, marketing, latest_ref, latest_source, latest_referral_ms
				{"INSTAGRAM", "ig-acct-1", "igsid-5", "standard", t0 + 5*day + hour, 23 * hour, t0 + 4*day + hour, "", "summer", "SHORTLINK", t0 + 4*day},
				{"INSTAGRAM", "ig-acct-1", "igsid-6", "standard", t0 + 5*day + 90*minute, 23*hour + 30*minute, t0 + 4*day + 90*minute, "", "winter", "SHORTLINK", t0 + 4*day + 90*minute},
			},
		},
		{
			// Windows are as of now_ms: igsid-5 and igsid-6 wrote later.
			name:   "open windows a day earlier, before the newest events",
			query:  "open_windows",
			params: map[string]any{"now_ms": t0 + 3*day + hour},
			want: [][]any{
				{"MESSENGER", "page-1", "psid-3", "standard", t0 + 4*day + 10*minute, 23*hour + 10*minute, t0 + 3*day + 10*minute, "", "autumn", "SHORTLINK", t0 + 3*day},
			},
		},
		{
			name:   "history of a participant with two referrals",
			query:  "participant_history",
			params: map[string]any{"platform": "MESSENGER", "account_id": "page-1", "participant_id": "psid-3"},
			want: [][]any{
				// event_time_ms, event_id, kind, thread, ref, source, type, ad_id, referer_uri
				{t0 + 2*hour, "m6", "POSTBACK", "NEW", ptr("summer"), ptr("SHORTLINK"), ptr("OPEN_THREAD"), (*string)(nil), (*string)(nil)},
				{t0 + 3*day, "r-p3-2", "REFERRAL", "EXISTING", ptr("autumn"), ptr("SHORTLINK"), ptr("OPEN_THREAD"), (*string)(nil), (*string)(nil)},
			},
		},
		{
			name:   "history of a duplicated ad referral",
			query:  "participant_history",
			params: map[string]any{"platform": "INSTAGRAM", "account_id": "ig-acct-1", "participant_id": "igsid-2"},
			want: [][]any{
				{t0 + hour, "r-p2-1", "REFERRAL", "EXISTING", ptr("spring"), ptr("ADS"), ptr("OPEN_THREAD"), ptr("ad-9"), (*string)(nil)},
				{t0 + 5*hour, "r-p2-2", "REFERRAL", "EXISTING", ptr("spring"), ptr("ADS"), ptr("OPEN_THREAD"), ptr("ad-9"), (*string)(nil)},
			},
		},
		{
			name:   "history of a participant without referrals",
			query:  "participant_history",
			params: map[string]any{"platform": "MESSENGER", "account_id": "page-1", "participant_id": "psid-4"},
		},
		{
			name:   "pipeline health of the busy minute",
			query:  "pipeline_health",
			params: map[string]any{"from_ms": t0 + hour, "to_ms": t0 + hour + 2*minute},
			want: [][]any{
				// minute, events, delay p50 p90 p99 (ms), freshness p50 p90 p99 (s):
				// delays 200, 700, 1500 and freshness 1, 2, 3 of m2, r-p5-1, r-p2-1;
				// the redelivery of r-p2-1 90 s later is not a new event.
				{time.UnixMilli(t0 + hour).UTC(), int64(3), int64(700), int64(1500), int64(1500), int64(2), int64(3), int64(3)},
			},
		},
		{
			name:   "pipeline health of a minute with only a redelivery",
			query:  "pipeline_health",
			params: map[string]any{"from_ms": t0 + hour + minute, "to_ms": t0 + hour + 2*minute},
		},
		{
			name:   "pipeline health of a day without receipts",
			query:  "pipeline_health",
			params: map[string]any{"from_ms": t0 + 20*day, "to_ms": t0 + 21*day},
		},
		{
			name:   "campaign_daily",
			query:  "campaign_daily",
			params: map[string]any{"from_day": "2024-03-10", "to_day": "2024-03-14"},
			want: [][]any{
				// day, platform, account_id, ref, source, kind, thread, events, participants
				{date(2024, 3, 10), "INSTAGRAM", "ig-acct-1", "spring", "ADS", "REFERRAL", "EXISTING", int64(2), int64(1)},
				{date(2024, 3, 10), "INSTAGRAM", "ig-acct-1", "spring", "SHORTLINK", "MESSAGE", "NEW", int64(1), int64(1)},
				{date(2024, 3, 10), "INSTAGRAM", "ig-acct-1", "spring", "SHORTLINK", "REFERRAL", "EXISTING", int64(1), int64(1)},
				{date(2024, 3, 10), "MESSENGER", "page-1", "summer", "SHORTLINK", "POSTBACK", "NEW", int64(1), int64(1)},
				{date(2024, 3, 13), "MESSENGER", "page-1", "autumn", "SHORTLINK", "REFERRAL", "EXISTING", int64(1), int64(1)},
				{date(2024, 3, 14), "INSTAGRAM", "ig-acct-1", "summer", "SHORTLINK", "REFERRAL", "EXISTING", int64(1), int64(1)},
				{date(2024, 3, 14), "INSTAGRAM", "ig-acct-1", "winter", "SHORTLINK", "REFERRAL", "EXISTING", int64(1), int64(1)},
			},
		},
		{
			name:   "campaign_daily of one day",
			query:  "campaign_daily",
			params: map[string]any{"from_day": "2024-03-13", "to_day": "2024-03-13"},
			want: [][]any{
				{date(2024, 3, 13), "MESSENGER", "page-1", "autumn", "SHORTLINK", "REFERRAL", "EXISTING", int64(1), int64(1)},
			},
		},
		{
			name:   "participant with first and latest referral",
			query:  "participant",
			params: map[string]any{"platform": "INSTAGRAM", "account_id": "ig-acct-1", "participant_id": "igsid-5"},
			want: [][]any{
				// first_ref, first_source, first_referral_ms, latest_ref, latest_source, latest_referral_ms, first_seen_ms, last_inbound_ms,
				// first_type, first_ad_id, latest_type, latest_ad_id, last_ad_message_ms, marketing
				// then the history, one array per field
				{
					"spring", "SHORTLINK", t0 + hour, "summer", "SHORTLINK", t0 + 4*day, t0 + hour, t0 + 4*day + hour, "OPEN_THREAD", "", "OPEN_THREAD", "", int64(0), "",
					[]int64{t0 + hour, t0 + 4*day}, []string{"r-p5-1", "r-p5-2"}, []string{"REFERRAL", "REFERRAL"}, []string{"EXISTING", "EXISTING"},
					[]string{"spring", "summer"}, []string{"SHORTLINK", "SHORTLINK"}, []string{"OPEN_THREAD", "OPEN_THREAD"}, []string{"", ""}, []string{"", ""},
				},
			},
		},
		{
			name:   "participant without referral",
			query:  "participant",
			params: map[string]any{"platform": "MESSENGER", "account_id": "page-1", "participant_id": "psid-4"},
			want: [][]any{{
				"", "", int64(0), "", "", int64(0), t0 + 5*hour, t0 + 6*hour, "", "", "", "", int64(0), "IN",
				[]int64{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{}, []string{},
			}},
		},
		{
			name:   "unknown participant",
			query:  "participant",
			params: map[string]any{"platform": "MESSENGER", "account_id": "page-1", "participant_id": "nobody"},
		},
	}

	oneRef := []any{"OPEN_THREAD", "", "OPEN_THREAD", "", int64(0), ""}
	wantParticipants := [][]any{
		// platform, account_id, participant_id, first_ref, first_source, first_referral_ms,
		// latest_ref, latest_source, latest_referral_ms, first_seen_ms, last_inbound_ms,
		// then first_type, first_ad_id, latest_type, latest_ad_id, last_ad_message_ms, marketing
		append([]any{"INSTAGRAM", "ig-acct-1", "igsid-1", "spring", "SHORTLINK", t0, "spring", "SHORTLINK", t0, t0, t0 + 2*day}, oneRef...),
		{"INSTAGRAM", "ig-acct-1", "igsid-2", "spring", "ADS", t0 + hour, "spring", "ADS", t0 + 5*hour, t0 + hour, t0 + 30*hour, "OPEN_THREAD", "ad-9", "OPEN_THREAD", "ad-9", int64(0), ""},
		append([]any{"INSTAGRAM", "ig-acct-1", "igsid-5", "spring", "SHORTLINK", t0 + hour, "summer", "SHORTLINK", t0 + 4*day, t0 + hour, t0 + 4*day + hour}, oneRef...),
		append([]any{"INSTAGRAM", "ig-acct-1", "igsid-6", "winter", "SHORTLINK", t0 + 4*day + 90*minute, "winter", "SHORTLINK", t0 + 4*day + 90*minute, t0 + 4*day + 90*minute, t0 + 4*day + 90*minute}, oneRef...),
		append([]any{"MESSENGER", "page-1", "psid-3", "summer", "SHORTLINK", t0 + 2*hour, "autumn", "SHORTLINK", t0 + 3*day, t0 + 2*hour, t0 + 3*day + 10*minute}, oneRef...),
		{"MESSENGER", "page-1", "psid-4", "", "", int64(0), "", "", int64(0), t0 + 5*hour, t0 + 6*hour, "", "", "", "", int64(0), "IN"},
	}

	// check runs every query, and reads the participants view, expecting the
	// same answers whatever the duplicates.
	check := func(t *testing.T, stage string) {
		t.Helper()
		for _, tt := range tests {
			t.Run(stage+"/"+tt.name, func(t *testing.T) {
				got := queryRows(t, e.conn, bind(t, tt.query, tt.params))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tt.query, diff)
				}
			})
		}
		t.Run(stage+"/participants view", func(t *testing.T) {
			got := queryRows(t, e.conn, "SELECT * FROM participants ORDER BY platform, account_id, participant_id")
			if diff := cmp.Diff(wantParticipants, got); diff != "" {
				t.Errorf("participants (-want +got):\n%s", diff)
			}
		})
	}
	countRows := func(t *testing.T) (rows, distinct int64) {
		t.Helper()
		var r, d uint64
		if err := e.conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM events").Scan(&r, &d); err != nil {
			t.Fatalf("counting events: %v", err)
		}
		return int64(r), int64(d)
	}

	check(t, "once")

	// The same batch again, as a sink retrying after a lost acknowledgement
	// would send it, and Meta's redeliveries.
	if err := e.store.InsertEvents(ctx, all, time.UnixMilli(t0+10*day)); err != nil {
		t.Fatalf("InsertEvents again: %v", err)
	}
	for _, d := range duplicates(data) {
		if err := e.store.InsertEvents(ctx, []event.Event{d.ev}, d.insertedAt()); err != nil {
			t.Fatalf("InsertEvents redelivery: %v", err)
		}
	}
	if rows, distinct := countRows(t); rows != 2*int64(len(data))+2 || distinct != int64(len(data)) {
		t.Fatalf("events holds %d rows of %d event_ids, want %d of %d: duplicates were not kept for the test", rows, distinct, 2*len(data)+2, len(data))
	}
	check(t, "with duplicates")

	for _, table := range []string{"events", "participant_state", "message_windows", "campaign_daily_agg"} {
		if err := e.conn.Exec(ctx, "SYSTEM START MERGES "+e.db+"."+table); err != nil {
			t.Fatalf("starting merges: %v", err)
		}
		if err := e.conn.Exec(ctx, "OPTIMIZE TABLE "+e.db+"."+table+" FINAL"); err != nil {
			t.Fatalf("optimizing %s: %v", table, err)
		}
	}
	if rows, distinct := countRows(t); rows != distinct {
		t.Errorf("after OPTIMIZE FINAL events holds %d rows of %d event_ids, want one row each", rows, distinct)
	}
	check(t, "merged")
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
