package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
)

// server holds what the handlers share.
type server struct {
	cfg         Config
	store       *chstore.Store
	metrics     *metrics
	logger      *slog.Logger
	pages       pages
	crossOrigin *http.CrossOriginProtection
	// session is the login cookie's value: an HMAC of a fixed text keyed by
	// the token, so the cookie never holds the token and changing the token
	// logs everyone out.
	session string
}

func newServer(cfg Config, store *chstore.Store, m *metrics, logger *slog.Logger) (*server, error) {
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &server{cfg: cfg, store: store, metrics: m, logger: logger, pages: p, crossOrigin: http.NewCrossOriginProtection()}
	if cfg.PublicURL != "" {
		if err := s.crossOrigin.AddTrustedOrigin(strings.TrimSuffix(cfg.PublicURL, "/")); err != nil {
			return nil, fmt.Errorf("setting CONSOLE_PUBLIC_URL as a trusted origin: %w", err)
		}
	}
	if cfg.Token != "" {
		mac := hmac.New(sha256.New, []byte(cfg.Token))
		mac.Write([]byte("reftrail console session v1"))
		s.session = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	return s, nil
}

const (
	sessionCookie = "reftrail_console"
	sessionMaxAge = 7 * 24 * time.Hour
)

// authorized reports whether r carries the token (Bearer) or the login
// cookie; always true when no token is configured.
func (s *server) authorized(r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return s.isToken(auth)
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.session)) == 1
	}
	return false
}

// isToken compares in constant time (of hashes, so that not even the length
// leaks).
func (s *server) isToken(v string) bool {
	a, b := sha256.Sum256([]byte(v)), sha256.Sum256([]byte(s.cfg.Token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// api guards an API handler: without the token, 401 in JSON.
func (s *server) api(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reftrail console"`)
			writeError(w, http.StatusUnauthorized, "authorization: send Authorization: Bearer <CONSOLE_TOKEN>")
			return
		}
		h(w, r)
	})
}

// page guards a page: without the cookie, to the login form and back.
func (s *server) page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r)
	})
}

// securityHeaders keep every page to its own origin: no script, style, image
// or frame from elsewhere, which is also what makes the console work offline.
func (s *server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts requests by route pattern and status.
func (s *server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers {"error": msg}; msg starts with the field at fault.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// apiErrors answers the mux's own 404 and 405 under /api/ in JSON, as every
// other API error, keeping the status and the Allow header the mux chose.
func apiErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" || !strings.HasPrefix(r.URL.Path, "/api/") {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &headerRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch rec.code {
		case http.StatusMethodNotAllowed:
			writeError(w, rec.code, "method: "+r.Method+" is not allowed here; use "+rec.header.Get("Allow"))
		default:
			writeError(w, http.StatusNotFound, "path: no API route "+r.URL.Path+"; see /api/v1/openapi.yaml")
		}
	})
}

// headerRecorder keeps the status and headers of the mux's error handlers
// and drops their plain-text bodies.
type headerRecorder struct {
	header http.Header
	code   int
}

func (h *headerRecorder) Header() http.Header         { return h.header }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int)        { h.code = code }
