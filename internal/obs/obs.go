// Package obs provides what every reftrail service exposes about itself: a JSON
// logger, a Prometheus registry of its own, and the /healthz, /readyz and
// /metrics handlers.
package obs

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reftrail/reftrail/internal/config"
)

// LogLevel reads LOG_LEVEL (debug, info, warn, error; default info).
func LogLevel(env *config.Env) slog.Level {
	switch env.OneOf("LOG_LEVEL", "info", "debug", "info", "warn", "error") {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// NewLogger returns a JSON logger writing to w, tagged with the service name.
func NewLogger(w io.Writer, service string, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})).With("service", service)
}

// NewRegistry returns a registry of the service's own (never the global one, so
// tests can run services side by side) with Go runtime and process metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// ReadyCheck reports whether a service's dependencies are reachable; nil is ready.
type ReadyCheck func(ctx context.Context) error

// readyTimeout bounds one readiness probe, so a hung dependency answers "not
// ready" before the orchestrator's probe gives up on us.
const readyTimeout = 2 * time.Second

// Routes adds GET /healthz (the process answers), GET /readyz (check passes)
// and GET /metrics (reg) to mux.
func Routes(mux *http.ServeMux, reg *prometheus.Registry, check ReadyCheck, logger *slog.Logger) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := check(ctx); err != nil {
			logger.Debug("not ready", "err", err)
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// AdminHandler serves Routes alone, for services whose only HTTP surface is
// METRICS_ADDR.
func AdminHandler(reg *prometheus.Registry, check ReadyCheck, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	Routes(mux, reg, check, logger)
	return mux
}
