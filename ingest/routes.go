package main

import (
	"io"
	"net/http"
)

// NewServer returns ingest's public routes: the webhook, Meta's data deletion
// callback and its status page when on (deletions is nil without
// INGEST_PUBLIC_URL), and a liveness probe, nothing that tells an outsider
// about brokers or disks (/readyz and /metrics are on METRICS_ADDR). Methods
// other than those listed get 405 with an Allow header, unknown paths 404
// (net/http's pattern matching).
func NewServer(webhooks *webhookHandler, deletions *deletionHandler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /webhook", webhooks.verifySubscription)
	mux.HandleFunc("POST /webhook", webhooks.receive)
	if deletions != nil {
		mux.HandleFunc("POST /data-deletion", deletions.receive)
		mux.HandleFunc("GET /data-deletion/status/{code}", deletions.status)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Nearly every request is a webhook: it skips the mux's pattern
		// matching, which would find the same handler.
		if r.Method == http.MethodPost && r.URL.Path == "/webhook" {
			webhooks.receive(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
