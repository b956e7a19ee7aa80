package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testSecret = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGVz" // 33 bytes

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{"NOTIFY_URLS": "https://a.example.com/hook, https://b.example.com/hook?token=s3cr3t", "NOTIFY_SECRET": testSecret}
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"no urls", map[string]string{"NOTIFY_URLS": ""}, "setting NOTIFY_URLS: required"},
		{"no secret", map[string]string{"NOTIFY_SECRET": ""}, "setting NOTIFY_SECRET: required"},
		{"bad secret", map[string]string{"NOTIFY_SECRET": "not-a-whsec"}, "setting NOTIFY_SECRET: must start with whsec_"},
		{"http", map[string]string{"NOTIFY_URLS": "http://a.example.com/?token=s3cr3t"}, "setting NOTIFY_URLS: URL number 1 must be https://"},
		{"private", map[string]string{"NOTIFY_URLS": "https://a.example.com/,https://10.0.0.1/"}, "URL number 2 is not a public address"},
		{"private allowed", map[string]string{"NOTIFY_URLS": "http://10.0.0.1/", "NOTIFY_ALLOW_PRIVATE": "true"}, ""},
		{"duplicate", map[string]string{"NOTIFY_URLS": "https://a.example.com/,https://a.example.com/"}, "URL number 2 repeats number 1"},
		{"bad max age", map[string]string{"NOTIFY_MAX_AGE": "a day"}, "setting NOTIFY_MAX_AGE"},
		{"decreasing schedule", map[string]string{"NOTIFY_RETRY_SCHEDULE": "5m,5s"}, "setting NOTIFY_RETRY_SCHEDULE"},
		{"sub-millisecond schedule", map[string]string{"NOTIFY_RETRY_SCHEDULE": "10500us"}, "whole number of milliseconds"},
		{"missing CA file", map[string]string{"NOTIFY_CA_FILE": "/nonexistent/ca.pem"}, "setting NOTIFY_CA_FILE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.env {
				env[k] = v
			}
			cfg, err := configFromEnv(func(k string) string { return env[k] })
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("configFromEnv = %v, want nil", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("configFromEnv = %v, want an error containing %q", err, c.wantErr)
			case err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), testSecret)):
				t.Fatalf("configFromEnv error %q quotes a secret", err)
			case c.name == "defaults":
				want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour}
				if diff := cmp.Diff(want, cfg.Schedule); diff != "" {
					t.Errorf("Schedule (-want +got):\n%s", diff)
				}
				if cfg.MaxAge != 24*time.Hour || cfg.MetricsAddr != ":9104" || cfg.AllowPrivate || len(cfg.Endpoints) != 2 {
					t.Errorf("defaults: max age %v, metrics %q, allow private %v, %d endpoints", cfg.MaxAge, cfg.MetricsAddr, cfg.AllowPrivate, len(cfg.Endpoints))
				}
			}
		})
	}
}

func TestRetryTopic(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:        "reftrail.notify.retry.5s",
		30 * time.Minute:       "reftrail.notify.retry.30m",
		10 * time.Hour:         "reftrail.notify.retry.10h",
		90 * time.Second:       "reftrail.notify.retry.90s",
		250 * time.Millisecond: "reftrail.notify.retry.250ms",
	} {
		if got := retryTopic(d); got != want {
			t.Errorf("retryTopic(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFollowUp(t *testing.T) {
	cfg := Config{Schedule: []time.Duration{time.Second, time.Minute, time.Minute}, MaxAge: time.Hour}
	n := &notifier{cfg: cfg, levels: cfg.levels()}
	ep := &endpoint{id: "e1"}
	now := time.UnixMilli(1_800_000_000_000)
	first := now.Add(-10 * time.Minute).UnixMilli()
	for _, c := range []struct {
		name      string
		d         delivery
		o         outcome
		wantTopic string
		wantDue   time.Time
	}{
		{"deferred, never tried", delivery{tries: 0, first: now.UnixMilli()}, outcome{}, "reftrail.notify.retry.1s", now.Add(time.Second)},
		{"first failure", delivery{tries: 1, first: first}, outcome{}, "reftrail.notify.retry.1s", now.Add(time.Second)},
		{"third failure, last wait repeated", delivery{tries: 3, first: first}, outcome{}, "reftrail.notify.retry.1m", now.Add(time.Minute)},
		{"retry-after longer than the wait", delivery{tries: 1, first: first}, outcome{retryAfter: 30 * time.Second}, "reftrail.notify.retry.1m", now.Add(30 * time.Second)},
		{"wait cut at the max age", delivery{tries: 1, first: now.Add(-time.Hour + 100*time.Millisecond).UnixMilli()}, outcome{retryAfter: time.Hour}, "reftrail.notify.retry.1s", now.Add(100 * time.Millisecond)},
		{"past the max age", delivery{tries: 9, first: now.Add(-time.Hour).UnixMilli()}, outcome{status: 503, reason: "http_503"}, dlqTopic, time.Time{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.d.ep, c.d.id = ep, "ev1"
			r := n.followUp(&c.d, c.o, now)
			if r.Topic != c.wantTopic {
				t.Errorf("topic %q, want %q", r.Topic, c.wantTopic)
			}
			if string(r.Key) != "e1" || header(r, headerID) != "ev1" {
				t.Errorf("key %q, webhook-id %q; want the endpoint id and the event id", r.Key, header(r, headerID))
			}
			if c.wantTopic == dlqTopic {
				if header(r, headerDLQReason) != parkedMaxAge || header(r, headerLastStatus) != "503" || header(r, headerLastReason) != "http_503" {
					t.Errorf("parked headers %v, want reason, last status and last reason", r.Headers)
				}
				return
			}
			if got := dueOf(r); !got.Equal(c.wantDue) {
				t.Errorf("due %v, want %v", got, c.wantDue)
			}
		})
	}
}
