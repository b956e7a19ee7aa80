package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// windowsData are people of Instagram account ig-1 and Messenger page pg-1
// whose windows are judged by the console's clock, so their times hang off
// now (whole seconds, so that times print without fractions):
//
//	p1     (ig-1) a link 2 days ago, another link 3 h ago, a message 2 h ago:
//	       standard window for 22 more hours
//	p2     (ig-1) a message from an ad 1 h ago: ad window for 7 days
//	p3     (ig-1) a message 30 h ago: no window
//	mk-1   (pg-1) opts in 5 h ago, writes 4 h ago: standard window, marketing
//	stop-1 (pg-1) opts in 5 h ago, writes 3 h ago, stops 1 h ago: a window,
//	       not for marketing
type windowsData struct {
	now time.Time
	evs []event.Event
}

func newWindowsData() windowsData {
	now := time.Now().UTC().Truncate(time.Second)
	at := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	ev := func(id string, p event.Platform, account string, kind event.Kind, who string, ago time.Duration) event.Event {
		return event.Event{EventID: id, Platform: p, Kind: kind, AccountID: account, ParticipantID: who,
			EventTime: at(ago), ReceivedTime: at(ago), Thread: event.ThreadUnknown, MessageID: ptr("mid." + id)}
	}
	ig := func(id string, kind event.Kind, who string, ago time.Duration) event.Event {
		return ev(id, event.Instagram, "ig-1", kind, who, ago)
	}
	withRef := func(e event.Event, thread event.Thread, ref, source, adID string) event.Event {
		e.Thread, e.Referral = thread, &event.Referral{Ref: ref, Source: source, Type: "OPEN_THREAD"}
		if adID != "" {
			e.Referral.AdID = &adID
		}
		return e
	}
	optin := func(id, who string, ago time.Duration, status *string) event.Event {
		e := ev(id, event.Messenger, "pg-1", event.KindOptin, who, ago)
		e.MessageID = nil
		e.Optin = &event.Optin{Type: "notification_messages", Topic: ptr("deals"), Frequency: ptr("WEEKLY"), Status: status}
		return e
	}
	return windowsData{now: now, evs: []event.Event{
		withRef(ig("r-p1-old", event.KindReferral, "p1", 48*time.Hour), event.ThreadExisting, "winter", "SHORTLINK", ""),
		withRef(ig("r-p1", event.KindReferral, "p1", 3*time.Hour), event.ThreadExisting, "spring", "SHORTLINK", ""),
		ig("m-p1", event.KindMessage, "p1", 2*time.Hour),
		withRef(ig("m-p2", event.KindMessage, "p2", time.Hour), event.ThreadNew, "", "ADS", "ad-9"),
		ig("m-p3", event.KindMessage, "p3", 30*time.Hour),
		optin("o-mk-1", "mk-1", 5*time.Hour, nil),
		ev("m-mk-1", event.Messenger, "pg-1", event.KindMessage, "mk-1", 4*time.Hour),
		optin("o-stop-1", "stop-1", 5*time.Hour, nil),
		ev("m-stop-1", event.Messenger, "pg-1", event.KindMessage, "stop-1", 3*time.Hour),
		optin("o-stop-1-out", "stop-1", time.Hour, ptr(event.OptinStop)),
	}}
}

func ptr(s string) *string { return &s }

// insertWindowsData stores d's events twice, as at-least-once delivery may.
func insertWindowsData(t *testing.T, c *console, d windowsData) {
	t.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, c.chcfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	for range 2 {
		if err := store.InsertEvents(ctx, d.evs, time.Now()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
}

// compact re-encodes a JSON text without spaces, to compare bodies exactly.
func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestIntegrationAPIParticipantsAndWindows(t *testing.T) {
	t.Parallel()
	c := startConsole(t, map[string]string{"CONSOLE_TOKEN": testToken})
	d := newWindowsData()
	insertWindowsData(t, c, d)
	ts := func(ago time.Duration) string { return d.now.Add(-ago).Format(time.RFC3339) }

	t.Run("participant", func(t *testing.T) {
		want := `{"latest_referral":{"ref":"spring","source":"SHORTLINK","type":"OPEN_THREAD","ad_id":null,"at":"` + ts(3*time.Hour) + `"},
			"first_referral":{"ref":"winter","source":"SHORTLINK","type":"OPEN_THREAD","ad_id":null,"at":"` + ts(48*time.Hour) + `"},
			"last_referral_at":"` + ts(3*time.Hour) + `","first_seen_at":"` + ts(48*time.Hour) + `","last_inbound_at":"` + ts(2*time.Hour) + `",
			"window":{"open":true,"kind":"standard","expires_at":"` + ts(2*time.Hour-24*time.Hour) + `"},
			"history":[
			{"event_id":"r-p1-old","kind":"REFERRAL","thread":"EXISTING","at":"` + ts(48*time.Hour) + `","ref":"winter","source":"SHORTLINK","ad_id":null},
			{"event_id":"r-p1","kind":"REFERRAL","thread":"EXISTING","at":"` + ts(3*time.Hour) + `","ref":"spring","source":"SHORTLINK","ad_id":null}]}`
		// The platform in any case.
		for _, platform := range []string{"instagram", "INSTAGRAM", "Instagram"} {
			status, body, h := c.do(t, "GET", "/api/v1/participants/"+platform+"/ig-1/p1", "")
			if status != http.StatusOK || h.Get("Content-Type") != "application/json" {
				t.Fatalf("GET %s = %d %s", platform, status, body)
			}
			if got := compact(t, string(body)); got != compact(t, want) {
				t.Errorf("GET %s:\n got %s\nwant %s", platform, got, compact(t, want))
			}
		}
		status, body, _ := c.do(t, "GET", "/api/v1/participants/instagram/ig-1/p2", "")
		wantAd := `{"latest_referral":{"ref":null,"source":"ADS","type":"OPEN_THREAD","ad_id":"ad-9","at":"` + ts(time.Hour) + `"},
			"first_referral":{"ref":null,"source":"ADS","type":"OPEN_THREAD","ad_id":"ad-9","at":"` + ts(time.Hour) + `"},
			"last_referral_at":"` + ts(time.Hour) + `","first_seen_at":"` + ts(time.Hour) + `","last_inbound_at":"` + ts(time.Hour) + `",
			"window":{"open":true,"kind":"ad","expires_at":"` + ts(time.Hour-7*24*time.Hour) + `"},
			"history":[{"event_id":"m-p2","kind":"MESSAGE","thread":"NEW","at":"` + ts(time.Hour) + `","ref":null,"source":"ADS","ad_id":"ad-9"}]}`
		if status != http.StatusOK || compact(t, string(body)) != compact(t, wantAd) {
			t.Errorf("GET p2 = %d\n got %s\nwant %s", status, body, compact(t, wantAd))
		}
		status, body, _ = c.do(t, "GET", "/api/v1/participants/instagram/ig-1/p3", "")
		wantClosed := `{"latest_referral":null,"first_referral":null,"last_referral_at":null,"first_seen_at":"` + ts(30*time.Hour) + `",
			"last_inbound_at":"` + ts(30*time.Hour) + `","window":{"open":false,"kind":"none","expires_at":"` + ts(6*time.Hour) + `"},"history":[]}`
		if status != http.StatusOK || compact(t, string(body)) != compact(t, wantClosed) {
			t.Errorf("GET p3 = %d\n got %s\nwant %s", status, body, compact(t, wantClosed))
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			path   string
			status int
			field  string
		}{
			{"/api/v1/participants/instagram/ig-1/nobody", http.StatusNotFound, "participant_id: "},
			{"/api/v1/participants/messenger/ig-1/p1", http.StatusNotFound, "participant_id: "},
			{"/api/v1/participants/whatsapp/ig-1/p1", http.StatusBadRequest, "platform: "},
			{"/api/v1/windows?account_id=ig-1", http.StatusBadRequest, "platform: "},
			{"/api/v1/windows?platform=instagram", http.StatusBadRequest, "account_id: "},
			{"/api/v1/windows?platform=instagram&account_id=ig-1&limit=1001", http.StatusBadRequest, "limit: "},
			{"/api/v1/windows?platform=instagram&account_id=ig-1&cursor=bogus", http.StatusBadRequest, "cursor: "},
			{"/api/v1/windows?platform=instagram&account_id=ig-1&purpose=spam", http.StatusBadRequest, "purpose: "},
		} {
			status, body, _ := c.do(t, "GET", tt.path, "")
			if status != tt.status || !strings.HasPrefix(decode[map[string]string](t, body)["error"], tt.field) {
				t.Errorf("GET %s = %d %s, want %d with an error starting %q", tt.path, status, body, tt.status, tt.field)
			}
		}
	})

	t.Run("auth", func(t *testing.T) {
		for _, path := range []string{"/api/v1/participants/instagram/ig-1/p1", "/api/v1/windows?platform=instagram&account_id=ig-1"} {
			req, _ := http.NewRequest("GET", c.base+path, nil)
			req.Header.Set("Authorization", "Bearer wrong")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("GET %s with a wrong token = %d %s, want 401 in JSON", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	})

	t.Run("windows, paginated", func(t *testing.T) {
		// ig-1: p1 closes in 22 h, p2 in 7 days; p3 has none.
		path := "/api/v1/windows?platform=INSTAGRAM&account_id=ig-1&limit=1"
		var got []string
		var pages int
		for path != "" {
			status, body, _ := c.do(t, "GET", path, "")
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", path, status, body)
			}
			page := decode[struct {
				Windows []json.RawMessage `json:"windows"`
				Next    string            `json:"next"`
			}](t, body)
			for _, w := range page.Windows {
				got = append(got, string(w))
			}
			path, pages = page.Next, pages+1
			if pages > 3 {
				t.Fatal("more pages than people")
			}
		}
		want := []string{
			`{"participant_id":"p1","kind":"standard","expires_at":"` + ts(2*time.Hour-24*time.Hour) + `","last_inbound_at":"` + ts(2*time.Hour) + `","marketing":"none","latest_referral":{"ref":"spring","source":"SHORTLINK","type":"OPEN_THREAD","ad_id":null,"at":"` + ts(3*time.Hour) + `"}}`,
			`{"participant_id":"p2","kind":"ad","expires_at":"` + ts(time.Hour-7*24*time.Hour) + `","last_inbound_at":"` + ts(time.Hour) + `","marketing":"none","latest_referral":{"ref":null,"source":"ADS","type":"OPEN_THREAD","ad_id":"ad-9","at":"` + ts(time.Hour) + `"}}`,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("windows (-want +got):\n%s", diff)
		}
		if pages != 2 {
			t.Errorf("%d pages of one, want 2", pages)
		}
	})

	t.Run("windows for marketing", func(t *testing.T) {
		ids := func(query string) []string {
			status, body, _ := c.do(t, "GET", "/api/v1/windows?platform=messenger&account_id=pg-1"+query, "")
			if status != http.StatusOK {
				t.Fatalf("GET windows%s = %d %s", query, status, body)
			}
			var out []string
			for _, w := range decode[struct {
				Windows []struct {
					ParticipantID string `json:"participant_id"`
					Marketing     string `json:"marketing"`
				} `json:"windows"`
			}](t, body).Windows {
				out = append(out, w.ParticipantID+" "+w.Marketing)
			}
			return out
		}
		// mk-1 wrote 4 h ago, stop-1 3 h ago: mk-1's window closes first.
		if diff := cmp.Diff([]string{"mk-1 opted_in", "stop-1 stopped"}, ids("")); diff != "" {
			t.Errorf("every open window (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"mk-1 opted_in"}, ids("&purpose=marketing")); diff != "" {
			t.Errorf("windows for marketing (-want +got):\n%s", diff)
		}
	})
}
