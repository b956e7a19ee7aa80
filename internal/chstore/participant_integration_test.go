package chstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// windowsNow is the "now" of the windows data set.
var windowsNow = time.UnixMilli(t0 + 2*day + 6*hour).UTC()

func optin(e event.Event, status *string) event.Event {
	e.Optin = &event.Optin{Type: "notification_messages", Topic: ptr("deals"), Title: ptr("Deals every week?"), Frequency: ptr("WEEKLY"), Status: status}
	return e
}

// windowsDataSet is the story of the window and opt-in tests, now being
// windowsNow (2 days 6 hours after t0):
//
//	ad-1    (Instagram) first message from an ad at 0, a reply: ad window to 7 days
//	std-1   (Instagram) a link at 2 d, a message an hour later: standard window
//	stop-1  (Messenger) opts in at 1 d, writes, opts out at 2 d 5 h: the opt-out
//	        opens no window, and the one of the message closed at 2 d 1 h
//	mkt-1   (Messenger) opts in (RESUME) at 2 d, writes: standard window, marketing
//	stop-2  (Messenger) opts in at 1 d, writes at 2 d 3 h, stops at 2 d 4 h:
//	        a window, but no marketing
//	ad-2    (Messenger) Get Started from an ad at 1 d, a message at 2 d: the
//	        ad window outlasts the standard one
func windowsDataSet() []event.Event {
	return []event.Event{
		func() event.Event {
			e := withMID(withReferral(ig("m-ad-1", event.KindMessage, "ad-1", 0, 100), event.ThreadNew, "ad_spring", "ADS"))
			return e
		}(),
		withMID(ig("m-ad-1-echo", event.KindEcho, "ad-1", hour, 100)),

		withReferral(ig("r-std-1", event.KindReferral, "std-1", 2*day, 100), event.ThreadExisting, "spring", "SHORTLINK"),
		withMID(ig("m-std-1", event.KindMessage, "std-1", 2*day+hour, 100)),

		optin(ms("o-stop-1-in", event.KindOptin, "stop-1", day, 100), nil),
		withMID(ms("m-stop-1", event.KindMessage, "stop-1", day+hour, 100)),
		optin(ms("o-stop-1-out", event.KindOptin, "stop-1", 2*day+5*hour, 100), ptr(event.OptinStop)),

		optin(ms("o-mkt-1", event.KindOptin, "mkt-1", 2*day, 100), ptr(event.OptinResume)),
		withMID(ms("m-mkt-1", event.KindMessage, "mkt-1", 2*day+2*hour, 100)),

		optin(ms("o-stop-2-in", event.KindOptin, "stop-2", day, 100), nil),
		withMID(ms("m-stop-2", event.KindMessage, "stop-2", 2*day+3*hour, 100)),
		optin(ms("o-stop-2-out", event.KindOptin, "stop-2", 2*day+4*hour, 100), ptr(event.OptinStop)),

		withMID(withReferral(ms("p-ad-2", event.KindPostback, "ad-2", day, 100), event.ThreadNew, "", "ADS")),
		withMID(ms("m-ad-2", event.KindMessage, "ad-2", 2*day, 100)),
	}
}

func at(offset int64) time.Time { return time.UnixMilli(t0 + offset).UTC() }

func TestIntegrationParticipantAndWindows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	chstore.SetClock(e.store, func() time.Time { return windowsNow })
	data := windowsDataSet()
	insert := func(evs []event.Event, insertedAt time.Time) {
		t.Helper()
		if err := e.store.InsertEvents(ctx, evs, insertedAt); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}

	adRef := &chstore.Referral{Ref: "ad_spring", Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9", At: at(0)}
	participants := []struct {
		name                           string
		platform, account, participant string
		want                           chstore.Participant
	}{
		{
			name:     "first message from an ad, platform in lower case",
			platform: "instagram", account: "ig-acct-1", participant: "ad-1",
			want: chstore.Participant{
				Platform: event.Instagram, AccountID: "ig-acct-1", ParticipantID: "ad-1",
				LatestReferral: adRef, FirstReferral: adRef,
				FirstSeenAt: at(0), LastInboundAt: at(0),
				Window: chstore.Window{Open: true, Kind: chstore.WindowAd, ExpiresAt: at(7 * day)},
				History: []chstore.HistoryEvent{
					{EventID: "m-ad-1", Kind: event.KindMessage, Thread: event.ThreadNew, At: at(0), Ref: "ad_spring", Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9"},
				},
			},
		},
		{
			name:     "an opt-out is not inbound",
			platform: "Messenger", account: "page-1", participant: "stop-1",
			want: chstore.Participant{
				Platform: event.Messenger, AccountID: "page-1", ParticipantID: "stop-1",
				FirstSeenAt: at(day), LastInboundAt: at(day + hour),
				Window:    chstore.Window{Kind: chstore.WindowNone, ExpiresAt: at(2*day + hour)},
				Marketing: chstore.MarketingStopped,
			},
		},
		{
			name:     "ad window outlasts a later message's",
			platform: "MESSENGER", account: "page-1", participant: "ad-2",
			want: chstore.Participant{
				Platform: event.Messenger, AccountID: "page-1", ParticipantID: "ad-2",
				LatestReferral: &chstore.Referral{Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9", At: at(day)},
				FirstReferral:  &chstore.Referral{Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9", At: at(day)},
				FirstSeenAt:    at(day), LastInboundAt: at(2 * day),
				Window: chstore.Window{Open: true, Kind: chstore.WindowAd, ExpiresAt: at(8 * day)},
				History: []chstore.HistoryEvent{
					{EventID: "p-ad-2", Kind: event.KindPostback, Thread: event.ThreadNew, At: at(day), Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9"},
				},
			},
		},
		{
			name:     "standard window, opted in",
			platform: "messenger", account: "page-1", participant: "mkt-1",
			want: chstore.Participant{
				Platform: event.Messenger, AccountID: "page-1", ParticipantID: "mkt-1",
				FirstSeenAt: at(2 * day), LastInboundAt: at(2*day + 2*hour),
				Window:    chstore.Window{Open: true, Kind: chstore.WindowStandard, ExpiresAt: at(3*day + 2*hour)},
				Marketing: chstore.MarketingOptedIn,
			},
		},
	}
	pageOne := []chstore.OpenWindow{
		{ParticipantID: "mkt-1", Kind: chstore.WindowStandard, ExpiresAt: at(3*day + 2*hour), LastInboundAt: at(2*day + 2*hour), Marketing: chstore.MarketingOptedIn},
		{ParticipantID: "stop-2", Kind: chstore.WindowStandard, ExpiresAt: at(3*day + 3*hour), LastInboundAt: at(2*day + 3*hour), Marketing: chstore.MarketingStopped},
		{
			ParticipantID: "ad-2", Kind: chstore.WindowAd, ExpiresAt: at(8 * day), LastInboundAt: at(2 * day),
			LatestReferral: &chstore.Referral{Source: "ADS", Type: "OPEN_THREAD", AdID: "ad-9", At: at(day)},
		},
	}

	check := func(t *testing.T) {
		for _, tt := range participants {
			t.Run(tt.name, func(t *testing.T) {
				got, err := e.store.Participant(ctx, tt.platform, tt.account, tt.participant)
				if err != nil {
					t.Fatalf("Participant: %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("Participant (-want +got):\n%s", diff)
				}
			})
		}
		t.Run("unknown participant", func(t *testing.T) {
			_, err := e.store.Participant(ctx, "instagram", "ig-acct-1", "nobody")
			if !errors.Is(err, chstore.ErrNotFound) {
				t.Errorf("Participant of nobody: %v, want ErrNotFound", err)
			}
		})
		t.Run("unknown platform", func(t *testing.T) {
			_, err := e.store.Participant(ctx, "whatsapp", "ig-acct-1", "ad-1")
			if !errors.Is(err, chstore.ErrInvalidPlatform) {
				t.Errorf("Participant on whatsapp: %v, want ErrInvalidPlatform", err)
			}
		})
		t.Run("windows of an Instagram account", func(t *testing.T) {
			got, err := e.store.Windows(ctx, "instagram", "ig-acct-1", chstore.WindowsOptions{})
			if err != nil {
				t.Fatalf("Windows: %v", err)
			}
			want := chstore.WindowsPage{Windows: []chstore.OpenWindow{
				{
					ParticipantID: "std-1", Kind: chstore.WindowStandard, ExpiresAt: at(3*day + hour), LastInboundAt: at(2*day + hour),
					LatestReferral: &chstore.Referral{Ref: "spring", Source: "SHORTLINK", Type: "OPEN_THREAD", At: at(2 * day)},
				},
				{ParticipantID: "ad-1", Kind: chstore.WindowAd, ExpiresAt: at(7 * day), LastInboundAt: at(0), LatestReferral: adRef},
			}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Windows (-want +got):\n%s", diff)
			}
		})
		for _, limit := range []int{1, 2, 3, 0} {
			t.Run("windows of a Messenger page in pages", func(t *testing.T) {
				var got []chstore.OpenWindow
				opts := chstore.WindowsOptions{Limit: limit}
				for pages := 1; ; pages++ {
					page, err := e.store.Windows(ctx, "messenger", "page-1", opts)
					if err != nil {
						t.Fatalf("Windows: %v", err)
					}
					if limit != 0 && len(page.Windows) > limit {
						t.Fatalf("page of %d rows, limit %d", len(page.Windows), limit)
					}
					got = append(got, page.Windows...)
					if page.NextCursor == "" {
						break
					}
					if pages > len(pageOne) {
						t.Fatalf("more than %d pages", pages)
					}
					opts.Cursor = page.NextCursor
				}
				if diff := cmp.Diff(pageOne, got); diff != "" {
					t.Errorf("Windows with limit %d (-want +got):\n%s", limit, diff)
				}
			})
		}
		t.Run("windows for marketing messages", func(t *testing.T) {
			got, err := e.store.Windows(ctx, "messenger", "page-1", chstore.WindowsOptions{MarketingOnly: true})
			if err != nil {
				t.Fatalf("Windows: %v", err)
			}
			if diff := cmp.Diff(chstore.WindowsPage{Windows: pageOne[:1]}, got); diff != "" {
				t.Errorf("Windows (-want +got):\n%s", diff)
			}
		})
		t.Run("bad cursor and limit", func(t *testing.T) {
			if _, err := e.store.Windows(ctx, "messenger", "page-1", chstore.WindowsOptions{Cursor: "not a cursor"}); !errors.Is(err, chstore.ErrInvalidCursor) {
				t.Errorf("Windows with a bad cursor: %v, want ErrInvalidCursor", err)
			}
			if _, err := e.store.Windows(ctx, "messenger", "page-1", chstore.WindowsOptions{Limit: chstore.MaxWindowsLimit + 1}); err == nil {
				t.Errorf("Windows with limit %d: no error", chstore.MaxWindowsLimit+1)
			}
		})
	}

	insert(data, time.UnixMilli(t0))
	t.Run("once", check)
	// A sink retrying the batch, and a Meta redelivery received later.
	insert(data, time.UnixMilli(t0+3*day))
	redelivery := data[6]
	redelivery.ReceivedTime += 90 * second
	insert([]event.Event{redelivery}, time.UnixMilli(t0+3*day))
	t.Run("with duplicates", check)
	for _, table := range []string{"events", "participant_state", "message_windows"} {
		if err := e.conn.Exec(ctx, "OPTIMIZE TABLE "+e.db+"."+table+" FINAL"); err != nil {
			t.Fatalf("optimizing %s: %v", table, err)
		}
	}
	t.Run("merged", check)
}
