package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/event"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestParseParams(t *testing.T) {
	const query = "SELECT {from_ms:Int64}, {ref:String}"
	tests := []struct {
		name    string
		args    []string
		want    map[string]any
		wantErr string
	}{
		{name: "typed by declaration", args: []string{"from_ms=1762128000000", "ref=spring=sale"}, want: map[string]any{"from_ms": int64(1762128000000), "ref": "spring=sale"}},
		{name: "not name=value", args: []string{"from_ms"}, wantErr: `parameter "from_ms": want name=value`},
		{name: "undeclared", args: []string{"to_ms=1"}, wantErr: "parameter to_ms: the query has no {to_ms:...}"},
		{name: "not an integer", args: []string{"from_ms=yesterday"}, wantErr: "parameter from_ms: Int64 wants an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParams(query, tt.args)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseParams = %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || err != nil {
				t.Errorf("parseParams (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}

// TestIntegrationRunPrintsTheQuery runs participant_history through run on a
// real ClickHouse and checks the table it prints, NULLs included.
func TestIntegrationRunPrintsTheQuery(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	ctx := context.Background()
	store, err := chstore.Open(ctx, chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := func(r string, at int64, id string) event.Event {
		return event.Event{EventID: id, Platform: event.Instagram, Kind: event.KindReferral, AccountID: "178", ParticipantID: "910",
			EventTime: at, ReceivedTime: at + 500, Thread: event.ThreadExisting,
			Referral: &event.Referral{Ref: r, Source: "SHORTLINKS", Type: "OPEN_THREAD"}}
	}
	// The second referral twice, as a redelivery would write it.
	evs := []event.Event{ref("spring_sale_qr", 1763700000000, "h:1"), ref("bio_link", 1763800000000, "h:2"), ref("bio_link", 1763800000000, "h:2")}
	if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CLICKHOUSE_ADDR": srv.Addr, "CLICKHOUSE_DATABASE": db, "CLICKHOUSE_USERNAME": srv.Username, "CLICKHOUSE_PASSWORD": srv.Password}
	var out bytes.Buffer
	err = run(ctx, []string{"participant_history", "platform=INSTAGRAM", "account_id=178", "participant_id=910"}, func(k string) string { return env[k] }, &out, io.Discard)
	if err != nil {
		t.Fatalf("run = %v", err)
	}
	var got [][]string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		got = append(got, strings.Fields(line))
	}
	want := [][]string{
		{"event_time_ms", "event_id", "kind", "thread", "referral_ref", "referral_source", "referral_type", "referral_ad_id", "referral_referer_uri"},
		{"1763700000000", "h:1", "REFERRAL", "EXISTING", "spring_sale_qr", "SHORTLINKS", "OPEN_THREAD", "NULL", "NULL"},
		{"1763800000000", "h:2", "REFERRAL", "EXISTING", "bio_link", "SHORTLINKS", "OPEN_THREAD", "NULL", "NULL"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("printed table (-want +got):\n%s", diff)
	}
}
