package main

import (
	"io"
	"net/http"
)

// NewServer returns ingest's public routes: the webhook and a liveness probe,
// nothing that tells an outsider about brokers or disks (/readyz and /metrics
// are on METRICS_ADDR). Methods other than those listed get 405 with an Allow
// header, unknown paths 404 (net/http's pattern matching).
func NewServer(webhooks *webhookHandler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", webhooks.verifySubscription)
	mux.HandleFunc("POST /webhook", webhooks.receive)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return mux
}
