package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrail/reftrail/internal/obs"
)

// NewServer returns ingest's routes. Methods other than those listed get 405
// with an Allow header, unknown paths 404 (net/http's pattern matching).
func NewServer(webhooks *webhookHandler, reg *prometheus.Registry, ready obs.ReadyCheck, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", webhooks.verifySubscription)
	mux.HandleFunc("POST /webhook", webhooks.receive)
	obs.Routes(mux, reg, ready, logger)
	return mux
}
