package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		name, url    string
		allowPrivate bool
		wantErr      string
	}{
		{"https public name", "https://hooks.example.com/reftrail?token=x", false, ""},
		{"http refused", "http://hooks.example.com/", false, "must be https://"},
		{"http allowed for local runs", "http://127.0.0.1:8080/", true, ""},
		{"other scheme", "ftp://hooks.example.com/", true, "must be https://"},
		{"loopback literal", "https://127.0.0.1/", false, "not a public address"},
		{"metadata service", "https://169.254.169.254/latest", false, "not a public address"},
		{"mapped loopback", "https://[::ffff:127.0.0.1]/", false, "not a public address"},
		{"user info", "https://user:pass@hooks.example.com/", false, "user info"},
		{"no host", "https:///path", false, "no host"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := checkURL(c.url, c.allowPrivate)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("checkURL(%q, %v) = %v, want error containing %q", c.url, c.allowPrivate, err, c.wantErr)
			}
		})
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700::1111": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "255.255.255.255": false,
		"224.0.0.1": false, "198.18.0.1": false, "::1": false, "::": false, "fe80::1": false,
		"fd00::1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "2001:db8::1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

// testNotifier returns a notifier with only what attempt needs.
func testNotifier(client *http.Client) *notifier {
	return &notifier{cfg: Config{Key: []byte(strings.Repeat("k", 32))}, http: client}
}

func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestAttemptRefusesPrivateAddressesWhenDialled reaches a loopback server by
// a name: checkURL cannot see the address, the dialer must.
func TestAttemptRefusesPrivateAddressesWhenDialled(t *testing.T) {
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := checkURL(strings.Replace(url, "http:", "https:", 1), false); err != nil {
		t.Fatalf("checkURL refused a name (%v); the test needs it to pass so that the dial is what refuses", err)
	}
	for _, allow := range []bool{false, true} {
		o := testNotifier(newHTTPClient(allow, 5*time.Second, nil)).attempt(context.Background(), &endpoint{url: url}, "id", []byte("{}"))
		switch {
		case !allow && (o.ok || o.reason != "address_not_allowed" || o.class != "refused"):
			t.Errorf("private address not allowed: outcome %+v, want refused address_not_allowed", o)
		case allow && !o.ok:
			t.Errorf("private address allowed: outcome %+v, want delivered", o)
		}
	}
	if got := hits.Load(); got != 1 {
		t.Errorf("server saw %d requests, want 1 (the allowed one)", got)
	}
}

func TestAttemptDoesNotFollowRedirects(t *testing.T) {
	target, targetHits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	o := testNotifier(newHTTPClient(true, 5*time.Second, nil)).attempt(context.Background(), &endpoint{url: srv.URL}, "id", []byte("{}"))
	if o.ok || o.status != http.StatusTemporaryRedirect || o.class != "3xx" {
		t.Errorf("outcome %+v, want a failed 307", o)
	}
	if got := targetHits.Load(); got != 0 {
		t.Errorf("redirect target saw %d requests, want 0", got)
	}
}

func TestAttemptTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { <-release })
	defer close(release)
	o := testNotifier(newHTTPClient(true, 100*time.Millisecond, nil)).attempt(context.Background(), &endpoint{url: srv.URL}, "id", []byte("{}"))
	if o.ok || o.class != "timeout" || !o.endpointDown {
		t.Errorf("outcome %+v, want a timeout that marks the endpoint down", o)
	}
}

// endlessBody counts what is read from an answer that never ends.
type endlessBody struct{ read atomic.Int64 }

func (b *endlessBody) Read(p []byte) (int, error) {
	b.read.Add(int64(len(p)))
	return len(p), nil
}

func (b *endlessBody) Close() error { return nil }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAttemptReadsAtMostTheCap(t *testing.T) {
	b := &endlessBody{}
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Body: b, Header: http.Header{}, Request: r}, nil
	})}
	o := testNotifier(client).attempt(context.Background(), &endpoint{url: "https://hooks.example.com/"}, "id", []byte("{}"))
	if !o.ok {
		t.Errorf("outcome %+v, want delivered", o)
	}
	if got := b.read.Load(); got > maxResponseBytes {
		t.Errorf("read %d bytes of the answer, want at most %d", got, maxResponseBytes)
	}
}

func TestStatusOutcome(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name       string
		status     int
		retryAfter string
		want       outcome
	}{
		{"204", 204, "", outcome{ok: true, status: 204, reason: "http_204"}},
		{"500", 500, "", outcome{status: 500, class: "5xx", reason: "http_500", endpointDown: true}},
		{"503 with seconds", 503, "120", outcome{status: 503, class: "5xx", reason: "http_503", endpointDown: true, retryAfter: 2 * time.Minute}},
		{"429 with a date", 429, now.Add(time.Hour).Format(http.TimeFormat), outcome{status: 429, class: "4xx", reason: "http_429", endpointDown: true, retryAfter: time.Hour}},
		{"400 is the message's", 400, "", outcome{status: 400, class: "4xx", reason: "http_400"}},
		{"bad retry-after", 503, "soon", outcome{status: 503, class: "5xx", reason: "http_503", endpointDown: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := statusOutcome(c.status, c.retryAfter, now); got != c.want {
				t.Errorf("statusOutcome(%d, %q) = %+v, want %+v", c.status, c.retryAfter, got, c.want)
			}
		})
	}
}

func TestFailureClassifiesRefusals(t *testing.T) {
	if o := failure(errors.Join(errors.New("dial"), errAddressNotAllowed)); o.class != "refused" {
		t.Errorf("failure(address not allowed) class %q, want refused", o.class)
	}
	if o := failure(io.ErrUnexpectedEOF); o.class != "network" {
		t.Errorf("failure(EOF) class %q, want network", o.class)
	}
}
