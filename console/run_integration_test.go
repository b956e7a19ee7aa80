package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
)

func TestMain(m *testing.M) { chtest.Main(m) }

const testToken = "test-token-0123456789"

// console is a console started through run on free ports, with a database of
// its own.
type console struct {
	base, metrics string
	token         string
	chcfg         chstore.Config
}

// startConsole runs the console with env on top of its ClickHouse settings
// (the shared server, a database of its own) and stops it when t ends; it
// returns once the console is ready.
func startConsole(t *testing.T, env map[string]string) *console {
	t.Helper()
	srv := chtest.Start(t)
	c := runConsole(t, srv, srv.NewDatabase(t), env)
	testenv.WaitReadyz(t, c.metrics, http.StatusOK, 60*time.Second)
	return c
}

// runConsole starts the console on srv's database db without waiting for it.
func runConsole(t *testing.T, srv *chtest.Server, db string, env map[string]string) *console {
	t.Helper()
	c := &console{
		base: "http://" + testenv.FreeAddr(t), metrics: "http://" + testenv.FreeAddr(t), token: env["CONSOLE_TOKEN"],
		chcfg: chstore.Config{Addr: srv.Addr, Database: db, Username: srv.Username, Password: srv.Password},
	}
	vars := map[string]string{
		"CONSOLE_ADDR": strings.TrimPrefix(c.base, "http://"), "METRICS_ADDR": strings.TrimPrefix(c.metrics, "http://"),
		"CLICKHOUSE_ADDR": srv.Addr, "CLICKHOUSE_DATABASE": db, "CLICKHOUSE_USERNAME": srv.Username, "CLICKHOUSE_PASSWORD": srv.Password,
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return vars[k] }, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return c
}

func TestIntegrationWaitsForClickHouse(t *testing.T) {
	t.Parallel()
	srv := chtest.StartLocal(t)
	srv.Stop(t)
	// The database does not exist yet either: the console creates it.
	c := runConsole(t, srv, "reftrail_console_wait", nil)
	testenv.WaitReadyz(t, c.metrics, http.StatusServiceUnavailable, 30*time.Second)
	srv.Restart(t)
	testenv.WaitReadyz(t, c.metrics, http.StatusOK, 60*time.Second)
	body := `{"platform":"instagram","handle":"shop","ref":"late","campaign":"Late"}`
	if status, b, _ := c.do(t, "POST", "/api/v1/links", body); status != http.StatusCreated {
		t.Errorf("POST after ClickHouse came up = %d %s, want 201", status, b)
	}
}

// do sends a request with the token (when the console has one) and returns
// the status and body.
func (c *console) do(t *testing.T, method, path, body string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func TestIntegrationAPILinks(t *testing.T) {
	t.Parallel()
	c := startConsole(t, map[string]string{"CONSOLE_TOKEN": testToken})

	spring := `{"platform":"instagram","handle":"shop.berlin","ref":"spring_qr","campaign":"Spring 2026","channel":"qr","variant":"a"}`
	t.Run("create", func(t *testing.T) {
		status, body, header := c.do(t, "POST", "/api/v1/links", spring)
		if status != http.StatusCreated {
			t.Fatalf("POST = %d %s, want 201", status, body)
		}
		got := decode[map[string]any](t, body)
		want := map[string]any{
			"ref": "spring_qr", "url": "https://ig.me/m/shop.berlin?ref=spring_qr", "campaign": "Spring 2026", "channel": "qr",
			"variant": "a", "platform": "instagram", "kind": "thread",
			"qr_png": "/api/v1/links/spring_qr/qr.png", "qr_svg": "/api/v1/links/spring_qr/qr.svg",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %v, want %v", k, got[k], v)
			}
		}
		if p, _ := got["prerequisites"].([]any); len(p) == 0 || !strings.Contains(p[0].(string), "Icebreaker") {
			t.Errorf("prerequisites = %v, want the Icebreaker first", got["prerequisites"])
		}
		if loc := header.Get("Location"); loc != "/api/v1/links/spring_qr" {
			t.Errorf("Location = %q", loc)
		}
	})
	t.Run("the same again is idempotent", func(t *testing.T) {
		status, body, _ := c.do(t, "POST", "/api/v1/links", spring)
		if status != http.StatusOK {
			t.Fatalf("POST again = %d %s, want 200", status, body)
		}
	})

	tests := []struct {
		name   string
		body   string
		status int
		error  string // the start of the error message
	}{
		{"same ref, other campaign", `{"platform":"instagram","handle":"shop.berlin","ref":"spring_qr","campaign":"Summer"}`, 409, "ref: already used"},
		{"ref with a space", `{"platform":"instagram","handle":"shop","ref":"a b"}`, 400, "ref: character ' ' at position 2 is not allowed"},
		{"ref too long", `{"platform":"instagram","handle":"shop","ref":"` + strings.Repeat("a", 2084) + `"}`, 400, "ref: is 2084 characters long"},
		{"unknown platform", `{"platform":"tiktok","handle":"shop","ref":"a"}`, 400, "platform: must be instagram or messenger"},
		{"bad handle", `{"platform":"instagram","handle":"a..b","ref":"a"}`, 400, "handle: "},
		{"opt-in without topic", `{"platform":"messenger","handle":"shop.page","kind":"optin","campaign":"x"}`, 400, "topic: "},
		{"bad cadence", `{"platform":"messenger","handle":"shop.page","kind":"optin","topic":"news","cadence":"hourly","campaign":"x"}`, 400, "cadence: "},
		{"nothing to make a ref from", `{"platform":"instagram","handle":"shop"}`, 400, "campaign: "},
		{"unknown field", `{"platform":"instagram","handle":"shop","ref":"a","colour":"red"}`, 400, `body: unknown field "colour"`},
		{"wrong type", `{"platform":"instagram","handle":"shop","ref":1}`, 400, "body: field ref must be a string"},
		{"not JSON", `platform=instagram`, 400, "body: not valid JSON"},
		{"two objects", `{"platform":"instagram","handle":"shop","ref":"a"} {}`, 400, "body: one JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, header := c.do(t, "POST", "/api/v1/links", tt.body)
			if status != tt.status {
				t.Fatalf("POST = %d %s, want %d", status, body, tt.status)
			}
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := decode[map[string]string](t, body)["error"]; !strings.HasPrefix(got, tt.error) {
				t.Errorf("error = %q, want it to start with %q", got, tt.error)
			}
		})
	}

	t.Run("generated refs", func(t *testing.T) {
		body := `{"platform":"messenger","handle":"shop.page","campaign":"Été 2026","channel":"Poster","text":"Hi there"}`
		for _, want := range []string{"ete-2026_poster", "ete-2026_poster-2"} {
			status, b, _ := c.do(t, "POST", "/api/v1/links", body)
			if status != http.StatusCreated {
				t.Fatalf("POST = %d %s", status, b)
			}
			got := decode[linkJSON](t, b)
			if got.Ref != want || got.URL != "https://m.me/shop.page?ref="+want+"&text=Hi%20there" {
				t.Errorf("ref, url = %q, %q; want ref %q", got.Ref, got.URL, want)
			}
		}
		status, b, _ := c.do(t, "POST", "/api/v1/links", `{"platform":"messenger","handle":"shop.page","kind":"optin","topic":"weekly deals","cadence":"weekly","campaign":"News"}`)
		if got := decode[linkJSON](t, b); status != http.StatusCreated || got.URL != "https://m.me/rn/shop.page?topic=weekly%20deals&cadence=weekly" || got.Ref != "news" || got.Topic != "weekly deals" {
			t.Errorf("opt-in POST = %d %+v", status, got)
		}
	})

	t.Run("get", func(t *testing.T) {
		status, body, _ := c.do(t, "GET", "/api/v1/links/spring_qr", "")
		if got := decode[linkJSON](t, body); status != http.StatusOK || got.Ref != "spring_qr" || got.Campaign != "Spring 2026" {
			t.Errorf("GET = %d %s", status, body)
		}
		status, body, _ = c.do(t, "GET", "/api/v1/links/nope", "")
		if status != http.StatusNotFound || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "ref: ") {
			t.Errorf("GET unknown = %d %s, want 404 naming ref", status, body)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		var refs []string
		path := "/api/v1/links?limit=2"
		for pages := 0; path != ""; pages++ {
			if pages > 3 {
				t.Fatalf("more pages than links")
			}
			status, body, _ := c.do(t, "GET", path, "")
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", path, status, body)
			}
			page := decode[struct {
				Links []linkJSON `json:"links"`
				Next  string     `json:"next"`
			}](t, body)
			if len(page.Links) > 2 {
				t.Errorf("page of %d links, limit 2", len(page.Links))
			}
			for _, l := range page.Links {
				refs = append(refs, l.Ref)
			}
			path = page.Next
		}
		if len(refs) != 4 {
			t.Errorf("pages hold %v, want the 4 links once each", refs)
		}
		status, body, _ := c.do(t, "GET", "/api/v1/links?limit=501", "")
		if status != http.StatusBadRequest || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "limit: ") {
			t.Errorf("limit=501: %d %s", status, body)
		}
	})

	t.Run("QR codes", func(t *testing.T) {
		status, body, header := c.do(t, "GET", "/api/v1/links/spring_qr/qr.png?size=300", "")
		if status != http.StatusOK || header.Get("Content-Type") != "image/png" {
			t.Fatalf("qr.png = %d %s", status, header.Get("Content-Type"))
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil || img.Bounds().Dx() != 300 {
			t.Errorf("qr.png: %v, bounds %v; want 300 pixels", err, img.Bounds())
		}
		status, body, header = c.do(t, "GET", "/api/v1/links/spring_qr/qr.svg", "")
		if status != http.StatusOK || header.Get("Content-Type") != "image/svg+xml" || !bytes.Contains(body, []byte("<svg")) {
			t.Errorf("qr.svg = %d %s", status, header.Get("Content-Type"))
		}
		// The same image again: 304 for the ETag the browser holds; another
		// size is another image.
		if header.Get("ETag") == "" {
			t.Errorf("qr.svg has no ETag")
		}
		_, _, pngHeader := c.do(t, "GET", "/api/v1/links/spring_qr/qr.png?size=300", "")
		req, err := http.NewRequest("GET", c.base+"/api/v1/links/spring_qr/qr.png?size=300", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("If-None-Match", pngHeader.Get("ETag"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("qr.png with its ETag = %d, want 304", resp.StatusCode)
		}
		if _, _, other := c.do(t, "GET", "/api/v1/links/spring_qr/qr.png?size=301", ""); other.Get("ETag") == pngHeader.Get("ETag") {
			t.Errorf("qr.png of another size has the same ETag %s", other.Get("ETag"))
		}
		for _, q := range []string{"size=10", "size=abc", "size=5000"} {
			status, body, _ := c.do(t, "GET", "/api/v1/links/spring_qr/qr.png?"+q, "")
			if status != http.StatusBadRequest || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "size: ") {
				t.Errorf("qr.png?%s = %d %s, want 400 naming size", q, status, body)
			}
		}
		if status, _, _ := c.do(t, "GET", "/api/v1/links/nope/qr.svg", ""); status != http.StatusNotFound {
			t.Errorf("qr.svg of an unknown ref = %d, want 404", status)
		}
	})

	t.Run("unknown routes and methods in JSON", func(t *testing.T) {
		status, body, header := c.do(t, "DELETE", "/api/v1/links/spring_qr", "")
		if status != http.StatusMethodNotAllowed || header.Get("Allow") == "" || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "method: DELETE") {
			t.Errorf("DELETE a link = %d %s (Allow %q), want 405 in JSON", status, body, header.Get("Allow"))
		}
		status, body, _ = c.do(t, "GET", "/api/v1/nothing", "")
		if status != http.StatusNotFound || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "path: ") {
			t.Errorf("GET an unknown API path = %d %s, want 404 in JSON", status, body)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m := testenv.Scrape(t, c.metrics)
		if got := testenv.Metric(m, "reftrail_console_requests_total", `route="POST /api/v1/links"`, `code="201"`); got < 1 {
			t.Errorf("requests_total of POST /api/v1/links, 201 = %v, want at least 1", got)
		}
		if got := testenv.Metric(m, "reftrail_console_requests_total", `route="GET /api/v1/links/{ref}"`, `code="404"`); got < 1 {
			t.Errorf("requests_total of GET /api/v1/links/{ref}, 404 = %v, want at least 1", got)
		}
		if got := testenv.Metric(m, "reftrail_console_links_created_total", `platform="instagram"`); got != 1 {
			t.Errorf("links_created_total of instagram = %v, want 1 (the repeat is not a new link)", got)
		}
	})

	t.Run("refused without the token", func(t *testing.T) {
		anon := *c
		anon.token = ""
		for _, r := range []struct{ method, path, body string }{
			{"GET", "/api/v1/links", ""},
			{"POST", "/api/v1/links", spring},
			{"GET", "/api/v1/links/spring_qr", ""},
			{"GET", "/api/v1/links/spring_qr/qr.png", ""},
			{"GET", "/api/v1/funnel", ""},
		} {
			status, body, _ := anon.do(t, r.method, r.path, r.body)
			if status != http.StatusUnauthorized || !strings.HasPrefix(decode[map[string]string](t, body)["error"], "authorization: ") {
				t.Errorf("%s %s without token = %d %s, want 401", r.method, r.path, status, body)
			}
		}
		if status, body, header := anon.do(t, "GET", "/api/v1/openapi.yaml", ""); status != http.StatusOK || header.Get("Content-Type") != "application/yaml" || !bytes.HasPrefix(body, []byte("openapi: 3.")) {
			t.Errorf("GET openapi.yaml without token = %d %s, want the document", status, header.Get("Content-Type"))
		}
		wrong := *c
		wrong.token = "not-the-token"
		if status, _, _ := wrong.do(t, "GET", "/api/v1/links", ""); status != http.StatusUnauthorized {
			t.Errorf("GET with a wrong token = %d, want 401", status)
		}
	})
}

func TestIntegrationAPIFunnel(t *testing.T) {
	t.Parallel()
	c := startConsole(t, nil) // loopback, no token
	ctx := context.Background()
	store, err := chstore.Open(ctx, c.chcfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()

	for _, body := range []string{
		`{"platform":"instagram","handle":"shop","ref":"spring","campaign":"Spring","channel":"qr"}`,
		`{"platform":"messenger","handle":"shop.page","ref":"summer","campaign":"Summer","channel":"qr"}`,
	} {
		if status, b, _ := c.do(t, "POST", "/api/v1/links", body); status != http.StatusCreated {
			t.Fatalf("POST = %d %s", status, b)
		}
	}
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(id string, kind event.Kind, who string, at int64, ref string) event.Event {
		e := event.Event{EventID: id, Platform: event.Instagram, Kind: kind, AccountID: "ig-1", ParticipantID: who,
			EventTime: t0 + at, ReceivedTime: t0 + at, Thread: event.ThreadUnknown}
		if ref != "" {
			e.Thread, e.Referral = event.ThreadExisting, &event.Referral{Ref: ref, Source: "SHORTLINK", Type: "OPEN_THREAD"}
		}
		return e
	}
	const hour = int64(time.Hour / time.Millisecond)
	evs := []event.Event{
		ev("r1", event.KindReferral, "p1", 0, "spring"), ev("m1", event.KindMessage, "p1", hour, ""), ev("e1", event.KindEcho, "p1", 2*hour, ""),
		ev("r2", event.KindReferral, "p2", 0, "spring"),
		ev("r3", event.KindReferral, "p3", 0, "summer"), ev("m3", event.KindMessage, "p3", hour, ""),
		ev("r4", event.KindReferral, "p4", 0, "flyer-old"),
	}
	// Twice: duplicates must not count.
	for range 2 {
		if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}

	type row = map[string]any
	tests := []struct {
		name, query string
		want        []row
	}{
		{"by campaign", "by=campaign", []row{
			{"campaign": "Spring", "referrals": 2.0, "participants": 2.0, "conversed": 1.0, "answered": 1.0, "returned": 0.0, "conversed_rate": 0.5, "answered_rate": 1.0, "returned_rate": 0.0},
			{"campaign": "(uncataloged)", "referrals": 1.0, "participants": 1.0, "conversed": 0.0, "answered": 0.0, "returned": 0.0, "conversed_rate": 0.0, "answered_rate": 0.0, "returned_rate": 0.0},
			{"campaign": "Summer", "referrals": 1.0, "participants": 1.0, "conversed": 1.0, "answered": 0.0, "returned": 0.0, "conversed_rate": 1.0, "answered_rate": 0.0, "returned_rate": 0.0},
		}},
		{"by channel", "by=channel", []row{
			{"channel": "qr", "referrals": 3.0, "participants": 3.0, "conversed": 2.0, "answered": 1.0, "returned": 0.0, "conversed_rate": 2.0 / 3, "answered_rate": 0.5, "returned_rate": 0.0},
			{"channel": "(uncataloged)", "referrals": 1.0, "participants": 1.0, "conversed": 0.0, "answered": 0.0, "returned": 0.0, "conversed_rate": 0.0, "answered_rate": 0.0, "returned_rate": 0.0},
		}},
		{"by ref, default campaign without by", "by=ref", []row{
			{"ref": "spring", "referrals": 2.0, "participants": 2.0, "conversed": 1.0, "answered": 1.0, "returned": 0.0, "conversed_rate": 0.5, "answered_rate": 1.0, "returned_rate": 0.0},
			{"ref": "flyer-old", "referrals": 1.0, "participants": 1.0, "conversed": 0.0, "answered": 0.0, "returned": 0.0, "conversed_rate": 0.0, "answered_rate": 0.0, "returned_rate": 0.0},
			{"ref": "summer", "referrals": 1.0, "participants": 1.0, "conversed": 1.0, "answered": 0.0, "returned": 0.0, "conversed_rate": 1.0, "answered_rate": 0.0, "returned_rate": 0.0},
		}},
	}
	period := "from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00%2B01:00&"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := c.do(t, "GET", "/api/v1/funnel?"+period+tt.query, "")
			if status != http.StatusOK {
				t.Fatalf("GET funnel = %d %s", status, body)
			}
			got := decode[struct {
				Rows []row `json:"rows"`
			}](t, body)
			if diff := cmp.Diff(tt.want, got.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
	// A page at a time: the next path leads through every row once.
	var refs []string
	for path := "/api/v1/funnel?" + period + "by=ref&limit=2"; path != ""; {
		status, body, _ := c.do(t, "GET", path, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, status, body)
		}
		page := decode[struct {
			Rows []row  `json:"rows"`
			Next string `json:"next"`
		}](t, body)
		for _, r := range page.Rows {
			refs = append(refs, r["ref"].(string))
		}
		path = page.Next
	}
	if diff := cmp.Diff([]string{"spring", "flyer-old", "summer"}, refs); diff != "" {
		t.Errorf("funnel by ref, two a page (-want +got):\n%s", diff)
	}
	for _, q := range []struct{ query, field string }{
		{"limit=0", "limit: "},
		{"offset=-1", "offset: "},
		{"from=yesterday", "from: "},
		{"to=2026-03-01", "to: "},
		{"from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to: must be after from"},
		{"from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from: the period"},
		{"by=medium", "by: "},
	} {
		status, body, _ := c.do(t, "GET", "/api/v1/funnel?"+q.query, "")
		if status != http.StatusBadRequest || !strings.HasPrefix(decode[map[string]string](t, body)["error"], q.field) {
			t.Errorf("funnel?%s = %d %s, want 400 starting %q", q.query, status, body, q.field)
		}
	}
}

// The console settles the funnel outcomes of its longest preset in the
// background, so that the first viewer of a 30-day funnel does not wait.
func TestIntegrationSettlesOutcomesInBackground(t *testing.T) {
	t.Parallel()
	srv := chtest.Start(t)
	store, db := srv.NewStore(t)
	ctx := context.Background()
	// A referral 10 days ago: its outcome is final, and within 30 days.
	at := time.Now().Add(-10 * 24 * time.Hour).UnixMilli()
	referral := event.Event{EventID: "r1", Platform: event.Instagram, Kind: event.KindReferral, AccountID: "ig-1", ParticipantID: "p1",
		EventTime: at, ReceivedTime: at, Thread: event.ThreadExisting, Referral: &event.Referral{Ref: "spring", Source: "SHORTLINK", Type: "OPEN_THREAD"}}
	if err := store.InsertEvents(ctx, []event.Event{referral}, time.Now()); err != nil {
		t.Fatalf("InsertEvents: %v", err)
	}

	c := runConsole(t, srv, db, nil)
	testenv.WaitReadyz(t, c.metrics, http.StatusOK, 60*time.Second)
	conn := srv.Conn(t, db)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var hours, referrals uint64
		if err := conn.QueryRow(ctx, "SELECT (SELECT uniqExact(hour) FROM referral_outcome_hours), (SELECT count() FROM referral_outcomes WHERE ref = 'spring')").Scan(&hours, &referrals); err != nil {
			t.Fatal(err)
		}
		// 31 days back to 7 days and 10 minutes ago, in whole hours: 24
		// days, an hour less when the clock is in the first 10 minutes
		// of an hour.
		if hours >= 24*24-1 && referrals == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d hours settled, %d outcome rows of the referral; want at least %d and 1", hours, referrals, 24*24-1)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
