package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// newTestHandler serves the console without a store: for the routes that
// answer before reaching ClickHouse (sign-in, assets, refusals).
func newTestHandler(t *testing.T, token string) (http.Handler, *server) {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", Token: token}
	h, err := NewServer(cfg, nil, newMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	s, err := newServer(cfg, nil, newMetrics(prometheus.NewRegistry()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	return h, s
}

func TestSignIn(t *testing.T) {
	h, s := newTestHandler(t, testToken)
	serve := func(req *http.Request) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}

	resp := serve(httptest.NewRequest("GET", "/campaigns?by=ref", nil))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fcampaigns%3Fby%3Dref" {
		t.Errorf("a page without the cookie = %d to %q, want 303 to the login form", resp.StatusCode, resp.Header.Get("Location"))
	}

	login := func(token, next string) *http.Response {
		form := url.Values{"token": {token}, "next": {next}}
		req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(req)
	}
	if resp := login("wrong", "/links"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("a wrong token = %d with cookies %v, want 401 and none", resp.StatusCode, resp.Cookies())
	}
	resp = login(testToken, "https://evil.example/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/overview" {
		t.Errorf("login = %d to %q, want 303 to /overview (never another site)", resp.StatusCode, resp.Header.Get("Location"))
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cookies))
	}
	c := cookies[0]
	if c.Name != sessionCookie || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Value != s.session {
		t.Errorf("cookie %+v: want %s, Secure, HttpOnly, SameSite=Strict, the session value", c, sessionCookie)
	}
	if strings.Contains(c.Value, testToken) {
		t.Errorf("the cookie holds the token")
	}

	// A forged cookie does not open the API. (The real one does: the browser
	// test loads QR images with it.)
	req := httptest.NewRequest("GET", "/api/v1/links/x/qr.svg", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "forged"})
	if resp := serve(req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API with a forged cookie = %d, want 401", resp.StatusCode)
	}

	// A form post from another site is refused before any handler runs.
	req = httptest.NewRequest("POST", "/links", strings.NewReader("platform=instagram"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: s.session})
	if resp := serve(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form post = %d, want 403", resp.StatusCode)
	}

	resp = serve(httptest.NewRequest("POST", "/logout", nil))
	if len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout cookies %v, want the session cookie cleared", resp.Cookies())
	}
}

func TestHealthzNeedsNoToken(t *testing.T) {
	h, _ := newTestHandler(t, testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("GET /healthz = %d %q, want 200 ok", rec.Code, rec.Body.String())
	}
}

func TestAssets(t *testing.T) {
	h, s := newTestHandler(t, "")
	tests := []struct {
		path        string
		status      int
		contentType string
	}{
		{"/assets/" + s.pages.assetVersion + "/console.css", 200, "text/css; charset=utf-8"},
		{"/assets/" + s.pages.assetVersion + "/console.js", 200, "text/javascript; charset=utf-8"},
		{"/assets/" + s.pages.assetVersion + "/icon.svg", 200, "image/svg+xml"},
		{"/assets/0123456789ab/console.css", 404, ""},
		{"/assets/" + s.pages.assetVersion + "/nothing.css", 404, ""},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
		if rec.Code != tt.status {
			t.Errorf("GET %s = %d, want %d", tt.path, rec.Code, tt.status)
			continue
		}
		if tt.status == 200 {
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("GET %s Content-Type = %q, want %q", tt.path, got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
				t.Errorf("GET %s Cache-Control = %q, want immutable", tt.path, got)
			}
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s Content-Security-Policy = %q", tt.path, csp)
		}
	}
}
