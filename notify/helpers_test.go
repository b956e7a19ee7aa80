package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/meta"
)

const (
	eventsTopic = "reftrail.events.v1"
	partitions  = 3
)

// TestMain lets the kill test run notify as a child process of this test
// binary, so that it can be killed with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("REFTRAIL_NOTIFY_CHILD") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func baseEnv(brokers []string, metricsAddr string, urls ...string) map[string]string {
	return map[string]string{
		"KAFKA_BROKERS":         strings.Join(brokers, ","),
		"METRICS_ADDR":          metricsAddr,
		"TOPIC_PARTITIONS":      strconv.Itoa(partitions),
		"LOG_LEVEL":             "warn",
		"NOTIFY_URLS":           strings.Join(urls, ","),
		"NOTIFY_SECRET":         testSecret,
		"NOTIFY_ALLOW_PRIVATE":  "true",
		"NOTIFY_RETRY_SCHEDULE": "100ms,200ms,400ms",
		"NOTIFY_TIMEOUT":        "2s",
	}
}

// startNotify runs notify through run until the test ends, waits for
// /readyz, and returns its admin URL.
func startNotify(t testing.TB, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	})
	url := "http://" + env["METRICS_ADDR"]
	testenv.WaitReadyz(t, url, http.StatusOK, 30*time.Second)
	return url
}

// planEvents decodes the good webhooks of a demo traffic plan as enrich
// would, and returns the distinct events and the ids of those carrying a
// referral. Their number is checked against the plan's own count (the
// funnel's referrals), which does not come from the decoder.
func planEvents(t testing.TB, seed uint64, participants int) (events []event.Event, referralIDs []string) {
	t.Helper()
	plan, err := traffic.NewPlan(traffic.Options{Seed: seed, Participants: participants, BadPayloads: -1})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, w := range plan.Webhooks() {
		res, err := meta.Decode(w.Body, meta.Source{ReceivedTime: 1763700100000 + int64(i), Offset: int64(i)})
		if err != nil {
			t.Fatalf("decoding planned webhook %d: %v", i, err)
		}
		for _, e := range res.Events {
			if seen[e.EventID] {
				continue
			}
			seen[e.EventID] = true
			events = append(events, e)
			if e.Referral != nil {
				referralIDs = append(referralIDs, e.EventID)
			}
		}
	}
	want := 0
	for _, row := range plan.Expected().Funnel {
		want += row.Referrals
	}
	if len(referralIDs) != want {
		t.Fatalf("the plan's events carry %d referrals, its funnel counts %d", len(referralIDs), want)
	}
	sort.Strings(referralIDs)
	return events, referralIDs
}

// produceEvents writes events to the events topic as enrich does: Avro
// single-object encoding, keyed by participant.
func produceEvents(t testing.TB, brokers []string, events []event.Event) {
	t.Helper()
	codec, err := eventcodec.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(eventsTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(events))
	for i := range events {
		v, err := codec.Append(nil, &events[i])
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = &kgo.Record{Key: []byte(events[i].Key()), Value: v}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("producing events: %v", err)
	}
}

// newBrokers returns a kfake cluster with the events topic created.
func newBrokers(t testing.TB) []string {
	t.Helper()
	return kafkatest.NewFake(t, kfake.SeedTopics(partitions, eventsTopic)).ListenAddrs()
}

// receiver is a subscriber's endpoint: it verifies every request's signature
// independently of notify's code and records what it got.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	answer func(n int, id string) (status int, header http.Header) // nil: 204

	mu       sync.Mutex
	requests int
	got      map[string][]attempt // by webhook-id
}

// attempt is one request a receiver saw.
type attempt struct {
	at     time.Time
	status int
	body   payload
}

func newReceiver(t testing.TB, tlsServer bool, answer func(n int, id string) (int, http.Header)) *receiver {
	r := &receiver{t: t, answer: answer, got: map[string][]attempt{}}
	if tlsServer {
		r.srv = httptest.NewTLSServer(r)
	} else {
		r.srv = httptest.NewServer(r)
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if err := verifyRequest(testSecret, req.Header, b); err != nil {
		r.t.Errorf("receiver got a request whose signature fails: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := req.Header.Get("Webhook-Id")
	var p payload
	if err := json.Unmarshal(b, &p); err != nil || p.Data.EventID != id || p.Type != "referral.received" {
		r.t.Errorf("body %s: type %q, event_id %q (err %v); want referral.received and the webhook-id %q", b, p.Type, p.Data.EventID, err, id)
	}
	r.mu.Lock()
	r.requests++
	n := r.requests
	r.mu.Unlock()
	status := http.StatusNoContent
	if r.answer != nil {
		var h http.Header
		status, h = r.answer(n, id)
		for k, v := range h {
			w.Header()[k] = v
		}
	}
	r.mu.Lock()
	r.got[id] = append(r.got[id], attempt{at: time.Now(), status: status, body: p})
	r.mu.Unlock()
	w.WriteHeader(status)
}

// delivered returns the ids answered 2xx at least once.
func (r *receiver) delivered() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for id, as := range r.got {
		for _, a := range as {
			if a.status < 300 {
				out[id] = true
			}
		}
	}
	return out
}

func (r *receiver) attempts(id string) []attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attempt(nil), r.got[id]...)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// waitDelivered waits until r has delivered every one of ids.
func waitDelivered(t testing.TB, name string, r *receiver, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := r.delivered()
		missing := 0
		for _, id := range ids {
			if !got[id] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d referrals not delivered after %v", name, missing, len(ids), timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCount waits until r has delivered at least n distinct referrals.
func waitCount(t testing.TB, r *receiver, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(r.delivered()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d referrals delivered after %v, want %d", len(r.delivered()), timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeCA writes the TLS test server's certificate as a PEM file for
// NOTIFY_CA_FILE.
func writeCA(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
