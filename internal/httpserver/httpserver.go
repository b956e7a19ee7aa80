// Package httpserver runs reftrail's HTTP servers with the timeouts and limits a
// server facing the internet needs, and shuts them down gracefully.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// Limits on a connection. The write timeout must outlast the slowest answer a
// handler gives (ingest waits up to PRODUCE_TIMEOUT, under 5 s, for Kafka).
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// ShutdownTimeout bounds a graceful shutdown: in-flight requests get this long
// to finish after SIGTERM.
const ShutdownTimeout = 10 * time.Second

// New returns a server for handler with every timeout set and panics recovered.
func New(handler http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           Recover(handler, logger),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Recover turns a panic in next into a 500 and one error log line, so no panic
// reaches the client as a dropped connection. http.ErrAbortHandler is passed on:
// it is how a handler asks net/http to abort the response.
func Recover(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			http.Error(w, "internal error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(w, r)
	})
}

// Serve listens on addr and serves until ctx ends, then shuts down gracefully
// with a fresh timeout, answering requests already in flight. It returns nil
// after a clean shutdown.
func Serve(ctx context.Context, srv *http.Server, addr string, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ServeListener(ctx, srv, ln, logger)
}

// ServeListener is Serve on a listener the caller opened, for servers that
// wrap theirs (a cap on open connections, say).
func ServeListener(ctx context.Context, srv *http.Server, ln net.Listener, logger *slog.Logger) error {
	addr := ln.Addr().String()
	logger.Info("listening", "addr", addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", addr, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down server on %s: %w", addr, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", addr, err)
	}
	return nil
}

// ServeWhile runs work while srv serves on addr, for services whose HTTP
// surface (health and metrics) sits beside their real work. When ctx ends,
// both stop; a server that cannot listen stops work too, rather than leaving
// a service that nothing can probe. It returns both errors joined.
func ServeWhile(ctx context.Context, srv *http.Server, addr string, logger *slog.Logger, work func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() {
		serveErr <- Serve(ctx, srv, addr, logger)
		cancel()
	}()
	workErr := work(ctx)
	cancel()
	return errors.Join(workErr, <-serveErr)
}
