package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/config"
	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/obs"
)

// Consumer groups and topics: contracts with operators (docs/notify.md).
const (
	// groupID reads EVENTS_TOPIC; retryGroupID reads the retry topics.
	groupID      = "reftrail-notify"
	retryGroupID = "reftrail-notify-retry"
	// dlqTopic holds parked deliveries: the body, its webhook-id and why it
	// was given up on.
	dlqTopic = "reftrail.notify.dlq"
	// retryTopicPrefix starts the name of each retry topic, one per delay of
	// the schedule: reftrail.notify.retry.5s, ...retry.5m, ...
	retryTopicPrefix = "reftrail.notify.retry."
)

// defaultSchedule is the wait after each failed attempt, the last repeated
// until NOTIFY_MAX_AGE: Svix's documented schedule, which spreads a day of
// outage over a handful of attempts.
const defaultSchedule = "5s,5m,30m,2h,5h,10h"

// Config is notify's whole configuration, read and validated before any
// connection opens.
type Config struct {
	Kafka kafka.Config
	// EventsTopic is consumed (EVENTS_TOPIC).
	EventsTopic string
	// Registry lets the decoder resolve Confluent schema ids
	// (SCHEMA_REGISTRY_URL and its settings); no URL reads single-object
	// encoding only.
	Registry eventcodec.RegistryConfig
	// Endpoints are the subscribers' URLs (NOTIFY_URLS, comma-separated,
	// required), each receiving every referral. A URL may carry a token in
	// its query, so URLs are never logged nor used as metric labels: an
	// endpoint is named by its position (label endpoint="0", "1", ...).
	Endpoints []*url.URL
	// Key is the HMAC key: the base64 after whsec_ in NOTIFY_SECRET.
	Key []byte
	// MaxAge is how long a delivery is retried, from its first attempt,
	// before it is parked in reftrail.notify.dlq (NOTIFY_MAX_AGE, default
	// 24h).
	MaxAge time.Duration
	// Schedule is the wait after the first, second, ... failed attempt, the
	// last repeated (NOTIFY_RETRY_SCHEDULE, default 5s,5m,30m,2h,5h,10h,
	// non-decreasing). An endpoint's Retry-After is honoured when longer.
	// Each distinct wait has its retry topic; changing the schedule leaves
	// the records of a removed wait in its topic, so drain it first.
	Schedule []time.Duration
	// AllowPrivate allows http:// and loopback, private and link-local
	// addresses (NOTIFY_ALLOW_PRIVATE, default false: https:// to public
	// addresses only). For tests and local runs.
	AllowPrivate bool
	// Timeout bounds one attempt, from dialling to the last byte read
	// (NOTIFY_TIMEOUT, default 10s).
	Timeout time.Duration
	// RootCAs adds the PEM certificates of NOTIFY_CA_FILE to the system
	// roots, for endpoints behind a private CA; nil uses the system roots.
	RootCAs *x509.CertPool
	// MetricsAddr serves /healthz, /readyz and /metrics (METRICS_ADDR,
	// default :9104).
	MetricsAddr string
	LogLevel    slog.Level
}

func configFromEnv(getenv func(string) string) (Config, error) {
	env := config.NewEnv(getenv)
	c := Config{
		Kafka:        kafka.ConfigFromEnv(env),
		EventsTopic:  kafka.EventsTopicFromEnv(env),
		Registry:     eventcodec.RegistryConfigFromEnv(env),
		MaxAge:       env.Duration("NOTIFY_MAX_AGE", 24*time.Hour, time.Millisecond, 30*24*time.Hour),
		AllowPrivate: env.Bool("NOTIFY_ALLOW_PRIVATE", false),
		// Under the group's rebalance timeout (60s) with room for the
		// probe and the produce that may follow an attempt.
		Timeout:     env.Duration("NOTIFY_TIMEOUT", 10*time.Second, time.Millisecond, 20*time.Second),
		MetricsAddr: env.String("METRICS_ADDR", ":9104"),
		LogLevel:    obs.LogLevel(env),
	}
	urls := env.Required("NOTIFY_URLS")
	secret := env.Required("NOTIFY_SECRET")
	schedule := env.String("NOTIFY_RETRY_SCHEDULE", defaultSchedule)
	caFile := env.String("NOTIFY_CA_FILE", "")
	if err := env.Err(); err != nil {
		return c, err
	}
	if strings.HasPrefix(c.EventsTopic, retryTopicPrefix) || c.EventsTopic == dlqTopic {
		env.Fail("EVENTS_TOPIC", "must not be one of notify's own topics")
	}
	var err error
	if c.Schedule, err = parseSchedule(schedule); err != nil {
		env.Fail("NOTIFY_RETRY_SCHEDULE", "%v", err)
	}
	if err := env.Err(); err != nil {
		return c, err
	}
	// The URLs and the secret are not quoted back: they may hold tokens.
	seen := map[string]int{}
	for i, raw := range strings.Split(urls, ",") {
		u, err := checkURL(strings.TrimSpace(raw), c.AllowPrivate)
		if err != nil {
			return c, &config.SettingError{Name: "NOTIFY_URLS", Problem: fmt.Sprintf("URL number %d %v", i+1, err)}
		}
		if j, dup := seen[u.String()]; dup {
			return c, &config.SettingError{Name: "NOTIFY_URLS", Problem: fmt.Sprintf("URL number %d repeats number %d", i+1, j+1)}
		}
		seen[u.String()] = i
		c.Endpoints = append(c.Endpoints, u)
	}
	if c.Key, err = parseSecret(secret); err != nil {
		return c, &config.SettingError{Name: "NOTIFY_SECRET", Problem: err.Error()}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err == nil {
			c.RootCAs, err = loadRootCAs(pem)
		}
		if err != nil {
			env.Fail("NOTIFY_CA_FILE", "%v", err)
		}
	}
	return c, env.Err()
}

// parseSchedule reads comma-separated Go durations, each whole milliseconds
// (they name topics), at least 10ms and none shorter than the one before.
func parseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for item := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(item))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q is not a Go duration such as 5s or 30m", strings.TrimSpace(item))
		case d < 10*time.Millisecond || d%time.Millisecond != 0:
			return nil, fmt.Errorf("%v is not a whole number of milliseconds of at least 10ms", d)
		case len(out) > 0 && d < out[len(out)-1]:
			return nil, fmt.Errorf("%v follows the longer %v; waits must not decrease", d, out[len(out)-1])
		}
		out = append(out, d)
	}
	return out, nil
}

// levels are the distinct waits of the schedule, each with its retry topic.
func (c *Config) levels() []time.Duration {
	return slices.Compact(slices.Clone(c.Schedule))
}

// retryTopic names the retry topic of a wait: reftrail.notify.retry.5s,
// ...30m, ...2h, or ...250ms for waits that are not whole seconds.
func retryTopic(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return retryTopicPrefix + strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return retryTopicPrefix + strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return retryTopicPrefix + strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return retryTopicPrefix + strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// endpointID is the stable name of an endpoint in retry and parked records: a
// hash of its URL, so that reordering NOTIFY_URLS sends no retry to another
// subscriber and the URL itself (which may hold a token) is not written to
// Kafka.
func endpointID(u *url.URL) string {
	sum := sha256.Sum256([]byte(u.String()))
	return hex.EncodeToString(sum[:8])
}
