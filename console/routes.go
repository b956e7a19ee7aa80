package main

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/reftrail/reftrail/internal/chstore"
)

// NewServer returns the console's routes: the pages, their assets, the login,
// /healthz, and the JSON API. /healthz, /readyz and /metrics are on
// METRICS_ADDR too (run).
// Methods other than those listed get 405, unknown paths 404 (in JSON under
// /api/, see apiErrors).
func NewServer(cfg Config, store *chstore.Store, m *metrics, logger *slog.Logger) (http.Handler, error) {
	s, err := newServer(cfg, store, m, logger)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()

	// Pages, for people: HTML, login by form and cookie.
	mux.Handle("GET /{$}", http.RedirectHandler("/overview", http.StatusSeeOther))
	mux.Handle("GET /overview", s.page(s.overviewPage))
	mux.Handle("GET /links", s.page(s.linksPage))
	mux.Handle("POST /links", s.page(s.createLinkForm))
	mux.Handle("GET /campaigns", s.page(s.campaignsPage))
	mux.Handle("GET /participants", s.page(s.participantPage))
	mux.Handle("GET /windows", s.page(s.windowsPage))
	mux.Handle("GET /dead-letters", s.page(s.deadLettersPage))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
	mux.HandleFunc("GET /assets/{version}/{file}", s.asset)
	// Liveness here too, for a proxy's health check; readiness and metrics
	// stay on METRICS_ADDR.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })

	// The API, for programs: JSON, Authorization: Bearer (or the pages' cookie).
	mux.Handle("POST /api/v1/links", s.api(s.createLinkAPI))
	mux.Handle("GET /api/v1/links", s.api(s.listLinksAPI))
	mux.Handle("GET /api/v1/links/{ref}", s.api(s.getLinkAPI))
	mux.Handle("GET /api/v1/links/{ref}/qr.png", s.api(s.qrPNG))
	mux.Handle("GET /api/v1/links/{ref}/qr.svg", s.api(s.qrSVG))
	mux.Handle("GET /api/v1/funnel", s.api(s.funnelAPI))
	mux.Handle("GET /api/v1/participants/{platform}/{account_id}/{participant_id}", s.api(s.participantAPI))
	mux.Handle("GET /api/v1/windows", s.api(s.windowsAPI))
	mux.HandleFunc("GET /api/v1/openapi.yaml", s.openAPI)

	return s.instrument(s.crossOrigin.Handler(s.securityHeaders(apiErrors(mux)))), nil
}
