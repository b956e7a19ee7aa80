package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// fakeIngest is an httptest server that checks signatures like ingest and
// answers 503 to its first unavailable POSTs, then status.
type fakeIngest struct {
	t            *testing.T
	verifier     *meta.Verifier
	unavailable  int // 503s still to answer
	status       int // the answer after them
	healthStatus int // the answer to GET /healthz

	mu       sync.Mutex
	accepted map[string]int // bodies answered 2xx, with their count
	url      string
}

func newFakeIngest(t *testing.T, secret string, unavailable, status int) *fakeIngest {
	t.Helper()
	f := &fakeIngest{
		t:            t,
		verifier:     meta.NewVerifier([]string{secret}),
		unavailable:  unavailable,
		status:       status,
		healthStatus: http.StatusOK,
		accepted:     map[string]int{},
	}
	srv := httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/webhook"
	return f
}

func (f *fakeIngest) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		f.mu.Lock()
		defer f.mu.Unlock()
		w.WriteHeader(f.healthStatus)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("reading body: %v", err)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/webhook" {
		f.t.Errorf("got %s %s, want POST /webhook", r.Method, r.URL.Path)
	}
	if err := f.verifier.Verify(r.Header.Get(meta.SignatureHeader), body); err != nil {
		f.t.Errorf("verifying signature: %v", err)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavailable > 0 {
		f.unavailable--
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if f.status/100 == 2 {
		f.accepted[string(body)]++
	}
	w.WriteHeader(f.status)
}

// runDemo calls run with env as the environment.
func runDemo(ctx context.Context, t *testing.T, env map[string]string, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(ctx, args, func(k string) string { return env[k] }, &out, &errOut)
	if errOut.Len() > 0 {
		t.Logf("stderr: %s", errOut.String())
	}
	return out.String(), err
}

func TestRunDeliversEveryWebhook(t *testing.T) {
	const secret = "test-secret"
	ingest := newFakeIngest(t, secret, 3, http.StatusOK)
	expectPath := filepath.Join(t.TempDir(), "expected.json")
	stdout, err := runDemo(t.Context(), t, nil,
		"-url", ingest.url, "-secret", secret, "-seed", "3", "-participants", "120", "-concurrency", "4", "-expect-json", expectPath)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stdout)
	}

	plan, err := traffic.NewPlan(traffic.Options{Seed: 3, Participants: 120})
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	want := map[string]int{}
	for _, w := range plan.Webhooks() {
		want[string(w.Body)]++
	}
	if diff := cmp.Diff(want, ingest.accepted); diff != "" {
		t.Errorf("bodies accepted (-planned +received):\n%s", diff)
	}

	b, err := os.ReadFile(expectPath)
	if err != nil {
		t.Fatalf("reading -expect-json file: %v", err)
	}
	var got traffic.Expected
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decoding -expect-json file: %v", err)
	}
	if diff := cmp.Diff(plan.Expected(), got); diff != "" {
		t.Errorf("-expect-json file (-plan +file):\n%s", diff)
	}

	n := len(plan.Webhooks())
	for _, line := range []string{
		"accepted " + strconv.Itoa(n) + ", retried 3, failed 0",
		"answers: 200=" + strconv.Itoa(n) + " 503=3",
		"expected: " + strconv.Itoa(plan.Expected().TotalEvents) + " distinct events",
		"packaging_insert",
	} {
		if !strings.Contains(stdout, line) {
			t.Errorf("stdout lacks %q:\n%s", line, stdout)
		}
	}
}

func TestRunSignsWithTheRightSecret(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantSecret string
	}{
		{name: "development default", wantSecret: "dev-app-secret"},
		{name: "first of META_APP_SECRETS", env: map[string]string{"META_APP_SECRETS": " new-secret , old-secret"}, wantSecret: "new-secret"},
		{name: "flag wins", env: map[string]string{"META_APP_SECRETS": "env-secret"}, args: []string{"-secret", "flag-secret"}, wantSecret: "flag-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ingest := newFakeIngest(t, tt.wantSecret, 0, http.StatusOK)
			args := append([]string{"-url", ingest.url, "-participants", "5"}, tt.args...)
			if stdout, err := runDemo(t.Context(), t, tt.env, args...); err != nil {
				t.Errorf("run: %v\n%s", err, stdout)
			}
		})
	}
}

func TestRunFailsWhenWebhooksAreNotDelivered(t *testing.T) {
	tests := []struct {
		name        string
		unavailable int
		status      int
		args        []string
		wantErr     string
		wantOut     string
	}{
		{
			name:    "refused",
			status:  http.StatusRequestEntityTooLarge,
			wantErr: "after 1 attempts: posting webhook: answered 413",
			wantOut: "retried 0",
		},
		{
			name:        "unavailable beyond the retries",
			unavailable: 1000,
			args:        []string{"-retries", "1"},
			wantErr:     "after 2 attempts: posting webhook: answered 503",
			wantOut:     "accepted 0",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ingest := newFakeIngest(t, "dev-app-secret", tt.unavailable, tt.status)
			args := append([]string{"-url", ingest.url, "-participants", "5"}, tt.args...)
			stdout, err := runDemo(t.Context(), t, nil, args...)
			if err == nil || !strings.Contains(err.Error(), "not delivered") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run error %v, want one saying not delivered, %s", err, tt.wantErr)
			}
			if !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantOut, stdout)
			}
		})
	}
}

func TestRunStopsWhenInterrupted(t *testing.T) {
	ingest := newFakeIngest(t, "dev-app-secret", 0, http.StatusOK)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := runDemo(ctx, t, nil, "-url", ingest.url, "-participants", "50", "-rate", "5")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupted after delivering") {
			t.Errorf("run error %v, want interrupted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}

func TestRunChecksIngestIsUpFirst(t *testing.T) {
	// Something else on the port: /healthz is not ingest's.
	notIngest := newFakeIngest(t, "dev-app-secret", 0, http.StatusOK)
	notIngest.healthStatus = http.StatusNotFound
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/webhook"
	closed.Close()
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{name: "nothing listening", url: closedURL, wantErr: "nothing answers at " + strings.TrimSuffix(closedURL, "/webhook") + "/healthz: is `make run` going?"},
		{name: "not ingest", url: notIngest.url, wantErr: "/healthz answers 404, not 200, after 500ms: is ingest at -url " + notIngest.url + "?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, err := runDemo(t.Context(), t, nil, "-url", tt.url, "-participants", "5", "-ingest-timeout", "500ms", "-check-clickhouse")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(stdout, "sent ") {
				t.Errorf("run sent webhooks though ingest is not up:\n%s", stdout)
			}
		})
	}
	if len(notIngest.accepted) != 0 {
		t.Errorf("the server that is not ingest got %d bodies, want 0", len(notIngest.accepted))
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "flag provided but not defined"},
		{name: "argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "url", args: []string{"-url", "127.0.0.1:8080"}, wantErr: "-url"},
		{name: "start", args: []string{"-start", "yesterday"}, wantErr: "-start"},
		{name: "participants", args: []string{"-participants", "0"}, wantErr: "-participants is 0"},
		{name: "rate", args: []string{"-rate", "-1"}, wantErr: "-rate is -1"},
		{name: "concurrency", args: []string{"-concurrency", "0"}, wantErr: "-concurrency is 0"},
		{name: "retries", args: []string{"-retries", "-1"}, wantErr: "-retries is -1"},
		{name: "ingest timeout", args: []string{"-ingest-timeout", "0s"}, wantErr: "-ingest-timeout is 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runDemo(t.Context(), t, nil, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPrintExtraNote(t *testing.T) {
	e := &traffic.Expected{
		TotalEvents: 10,
		FromMs:      time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC).UnixMilli(),
		ToMs:        time.Date(2025, 11, 23, 12, 0, 0, 0, time.UTC).UnixMilli(),
		Funnel: []traffic.FunnelRow{
			{Platform: event.Instagram, AccountID: "17841400000000101", Ref: "bio_link"},
			{Platform: event.Messenger, AccountID: "100000000000101", Ref: "site_chat"},
		},
	}
	tests := []struct {
		name     string
		got      uint64
		accounts []accountEvents
		want     []string
		dontWant []string
	}{
		{
			name: "a webhook sent by hand to another account",
			got:  11,
			accounts: []accountEvents{
				{event.Instagram, "17841400000000001", 1},
				{event.Instagram, "17841400000000101", 6},
				{event.Messenger, "100000000000101", 4},
			},
			want: []string{
				"note: ClickHouse holds 11 distinct events in the plan's period (2025-11-03T00:00:00Z to 2025-11-23T12:00:00Z), 1 more than the plan sent.",
				"1 of them are on accounts the plan never uses: 1 on INSTAGRAM account 17841400000000001.",
				"timestamps outside this period",
			},
			dontWant: []string{"plan's own accounts"},
		},
		{
			name: "another plan on the same accounts",
			got:  13,
			accounts: []accountEvents{
				{event.Instagram, "17841400000000101", 8},
				{event.Messenger, "100000000000101", 5},
			},
			want:     []string{"3 more than the plan sent", "3 are on the plan's own accounts: another plan (other -seed or -participants)"},
			dontWant: []string{"never uses"},
		},
		{
			name: "both",
			got:  14,
			accounts: []accountEvents{
				{event.Messenger, "100000000000999", 2},
				{event.Instagram, "17841400000000101", 7},
				{event.Messenger, "100000000000101", 5},
			},
			want: []string{"2 of them are on accounts the plan never uses: 2 on MESSENGER account 100000000000999.", "2 are on the plan's own accounts"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			printExtraNote(&out, e, tt.got, tt.accounts)
			for _, want := range tt.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("note lacks %q:\n%s", want, out.String())
				}
			}
			for _, bad := range tt.dontWant {
				if strings.Contains(out.String(), bad) {
					t.Errorf("note says %q:\n%s", bad, out.String())
				}
			}
		})
	}
}
