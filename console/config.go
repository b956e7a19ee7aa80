package main

import (
	"log/slog"
	"net"
	"net/url"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/obs"
)

// Config is the console's whole configuration, read and validated before any
// connection opens.
type Config struct {
	// Addr serves the pages and the API (CONSOLE_ADDR, default
	// 127.0.0.1:8090: only this machine, until a token is set).
	Addr string
	// Token guards the pages (login form, then a cookie) and the API
	// (Authorization: Bearer). CONSOLE_TOKEN, required unless Addr is a
	// loopback address; empty means no login.
	Token string
	// PublicURL is where people reach the console when a proxy stands in
	// front of it (CONSOLE_PUBLIC_URL, scheme and host only; default empty:
	// the address they used). Form posts from that origin are trusted, and
	// Location headers point there.
	PublicURL string
	// ClickHouse holds the links catalog and the events (the CLICKHOUSE_*
	// settings of chstore.ConfigFromEnv).
	ClickHouse chstore.Config
	// MetricsAddr serves /healthz, /readyz and /metrics (METRICS_ADDR,
	// default :9103).
	MetricsAddr string
	LogLevel    slog.Level
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Addr:        env.String("CONSOLE_ADDR", "127.0.0.1:8090"),
		Token:       env.Secret("CONSOLE_TOKEN"),
		PublicURL:   env.String("CONSOLE_PUBLIC_URL", ""),
		ClickHouse:  chstore.ConfigFromEnv(env),
		MetricsAddr: env.String("METRICS_ADDR", ":9103"),
		LogLevel:    obs.LogLevel(env),
	}
	host, _, err := net.SplitHostPort(c.Addr)
	switch {
	case err != nil:
		env.Fail("CONSOLE_ADDR", "must be host:port, such as 127.0.0.1:8090")
	case c.Token == "" && !loopback(host):
		env.Fail("CONSOLE_TOKEN", "required when CONSOLE_ADDR is not a loopback address (it is %s)", c.Addr)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			env.Fail("CONSOLE_PUBLIC_URL", "must be a scheme and host such as https://console.example.com, without a path")
		}
	}
	return c, env.Err()
}

// loopback reports whether host only this machine can reach: a loopback IP or
// localhost. An empty host (":8090") listens on every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
