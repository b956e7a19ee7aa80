package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/event"
)

// chEnv starts (or shares) a ClickHouse, migrates a fresh database with evs
// inserted, and returns the environment that points reftrailctl at it.
func chEnv(t *testing.T, evs []event.Event) map[string]string {
	t.Helper()
	srv := chtest.Start(t)
	store, db := srv.NewStore(t)
	ctx := context.Background()
	if len(evs) > 0 {
		if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{"CLICKHOUSE_ADDR": srv.Addr, "CLICKHOUSE_DATABASE": db, "CLICKHOUSE_USERNAME": srv.Username, "CLICKHOUSE_PASSWORD": srv.Password}
}

func referral(ref string, at int64, id string) event.Event {
	return event.Event{EventID: id, Platform: event.Instagram, Kind: event.KindReferral, AccountID: "178", ParticipantID: "910",
		EventTime: at, ReceivedTime: at + 500, Thread: event.ThreadExisting,
		Referral: &event.Referral{Ref: ref, Source: "SHORTLINKS", Type: "OPEN_THREAD"}}
}

func table(out string) [][]string {
	var got [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got = append(got, strings.Fields(line))
	}
	return got
}

// TestIntegrationQuery runs queries through run on a real ClickHouse with the
// friendlier parameters: a lower-case platform, dates, aliases, and a
// reversed range refused before anything runs.
func TestIntegrationQuery(t *testing.T) {
	// The second referral twice, as a redelivery would write it.
	env := chEnv(t, []event.Event{referral("spring_sale_qr", 1763700000000, "h:1"), referral("bio_link", 1763800000000, "h:2"), referral("bio_link", 1763800000000, "h:2")})
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		want    [][]string
		wantErr string
	}{
		{name: "history, platform in lower case", args: []string{"participant_history", "platform=instagram", "account=178", "participant=910"},
			want: [][]string{
				{"event_time_ms", "event_id", "kind", "thread", "referral_ref", "referral_source", "referral_type", "referral_ad_id", "referral_referer_uri"},
				{"1763700000000", "h:1", "REFERRAL", "EXISTING", "spring_sale_qr", "SHORTLINKS", "OPEN_THREAD", "NULL", "NULL"},
				{"1763800000000", "h:2", "REFERRAL", "EXISTING", "bio_link", "SHORTLINKS", "OPEN_THREAD", "NULL", "NULL"},
			}},
		{name: "campaign_daily by dates", args: []string{"campaign_daily", "from=2025-11-21", "to=2025-11-22T23:00:00Z"},
			want: [][]string{
				{"day", "platform", "account_id", "ref", "source", "kind", "thread", "events", "participants"},
				{"2025-11-21", "INSTAGRAM", "178", "spring_sale_qr", "SHORTLINKS", "REFERRAL", "EXISTING", "1", "1"},
				{"2025-11-22", "INSTAGRAM", "178", "bio_link", "SHORTLINKS", "REFERRAL", "EXISTING", "1", "1"},
			}},
		{name: "funnel, whole days", args: []string{"funnel", "from=2025-11-21", "to=2025-11-21"},
			want: [][]string{
				{"platform", "account_id", "ref", "referrals", "participants", "conversed", "answered", "returned"},
				{"INSTAGRAM", "178", "spring_sale_qr", "1", "1", "0", "0", "0"},
			}},
		{name: "reversed range", args: []string{"funnel", "from=2025-11-23", "to=2025-11-21"},
			wantErr: "funnel: from_ms 2025-11-23T00:00:00Z is not before to_ms 2025-11-22T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), append([]string{"query"}, tt.args...), getenv, &out, io.Discard)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("run = %v, want %q", err, tt.wantErr)
				}
				if out.Len() > 0 {
					t.Errorf("a refused query printed %q", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run = %v", err)
			}
			if diff := cmp.Diff(tt.want, table(out.String())); diff != "" {
				t.Errorf("printed table (-want +got):\n%s", diff)
			}
		})
	}
}
