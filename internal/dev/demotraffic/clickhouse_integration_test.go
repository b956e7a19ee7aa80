package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// loadPlan migrates a new database and inserts the events that enrich makes
// of plan's webhooks (decoded with meta.Decode, redeliveries included, as the
// sink would write them), standing in for the pipeline.
func loadPlan(t *testing.T, srv *chtest.Server, plan *traffic.Plan) string {
	t.Helper()
	store, db := srv.NewStore(t)
	ctx := context.Background()
	var evs []event.Event
	for i, w := range plan.Webhooks() {
		res, err := meta.Decode(w.Body, meta.Source{ReceivedTime: time.Now().UnixMilli(), Offset: int64(i)})
		var de *meta.DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("decoding webhook %d: %v", i, err)
		}
		evs = append(evs, res.Events...)
	}
	if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}
	return db
}

func TestIntegrationCheckClickHouse(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	plan, err := traffic.NewPlan(traffic.Options{Seed: 7, Participants: 60})
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	db := loadPlan(t, srv, plan)
	total := plan.Expected().TotalEvents

	tests := []struct {
		name    string
		change  func(*traffic.Expected)
		wantErr string
		wantOut []string
	}{
		{
			name:    "match",
			change:  func(*traffic.Expected) {},
			wantOut: []string{"ClickHouse holds " + strconv.Itoa(total) + " distinct events", " ok\n", "funnel: ClickHouse matches the plan in all"},
		},
		{
			name:    "funnel differs",
			change:  func(e *traffic.Expected) { e.Funnel[0].Answered++ },
			wantErr: "ClickHouse's funnel differs from the plan in 1 of",
			wantOut: []string{"MISMATCH", "differs: "},
		},
		{
			name:    "events missing",
			change:  func(e *traffic.Expected) { e.TotalEvents++ },
			wantErr: "ClickHouse holds " + strconv.Itoa(total) + " of the plan's " + strconv.Itoa(total+1) + " events",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := plan.Expected()
			tt.change(&e)
			c := clickhouseCheck{addr: srv.Addr, database: db, username: srv.Username, password: srv.Password, timeout: 2 * time.Second}
			var out strings.Builder
			err := c.run(t.Context(), &out, &e)
			if tt.wantErr == "" && err != nil {
				t.Errorf("run: %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("run error %v, want one containing %q", err, tt.wantErr)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestIntegrationRunChecksClickHouse runs the command as `make demo` does,
// with the ClickHouse settings from the environment, against a fake ingest
// and a ClickHouse already holding the plan's events.
func TestIntegrationRunChecksClickHouse(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	plan, err := traffic.NewPlan(traffic.Options{Seed: 8, Participants: 30})
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	db := loadPlan(t, srv, plan)
	ingest := newFakeIngest(t, "dev-app-secret", 0, http.StatusOK)
	env := map[string]string{
		"CLICKHOUSE_ADDR":     srv.Addr,
		"CLICKHOUSE_DATABASE": db,
		"CLICKHOUSE_USERNAME": srv.Username,
		"CLICKHOUSE_PASSWORD": srv.Password,
	}
	stdout, err := runDemo(t.Context(), t, env, "-url", ingest.url, "-seed", "8", "-participants", "30", "-check-clickhouse", "-clickhouse-timeout", "10s")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}
	if want := "funnel: ClickHouse matches the plan"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	// It ends with where to look.
	if want := "Look at it in the console: http://127.0.0.1:8090/campaigns?period=custom&from=2025-11-03&to="; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
}

// TestIntegrationCheckNamesExtraEvents adds to a plan's events one referral
// sent by hand inside the plan's period, as the README's curl example once
// did, and checks that the note names its account.
func TestIntegrationCheckNamesExtraEvents(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	plan, err := traffic.NewPlan(traffic.Options{Seed: 7, Participants: 30})
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	db := loadPlan(t, srv, plan)
	e := plan.Expected()
	at := strconv.FormatInt(e.FromMs+1000, 10)
	body := []byte(`{"object":"instagram","entry":[{"id":"17841400000000001","time":` + at + `,"messaging":[{"sender":{"id":"9100000000000001"},"recipient":{"id":"17841400000000001"},"timestamp":` + at + `,"referral":{"ref":"spring_sale_qr","source":"SHORTLINKS","type":"OPEN_THREAD"}}]}]}`)
	res, err := meta.Decode(body, meta.Source{ReceivedTime: time.Now().UnixMilli()})
	if err != nil {
		t.Fatalf("decoding the hand-made webhook: %v", err)
	}
	store, err := chstore.Open(t.Context(), chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	if err := store.InsertEvents(t.Context(), res.Events, time.Now()); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}

	c := clickhouseCheck{addr: srv.Addr, database: db, username: srv.Username, password: srv.Password, timeout: 5 * time.Second}
	var out strings.Builder
	err = c.run(t.Context(), &out, &e)
	if err == nil || !strings.Contains(err.Error(), "differs from the plan in 1 of") {
		t.Errorf("run error %v, want the funnel to differ in one row", err)
	}
	for _, want := range []string{
		"1 more than the plan sent",
		"1 of them are on accounts the plan never uses: 1 on INSTAGRAM account 17841400000000001.",
		"differs: INSTAGRAM 17841400000000001 spring_sale_qr",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
