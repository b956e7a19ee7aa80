package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/event"
)

// spanRE is a span before now: a whole number of days (7d) or weeks (2w), or
// a Go duration (24h, 90m, 1h30m).
var spanRE = regexp.MustCompile(`^([0-9]+)([dw])$`)

// parseTime reads a point in time as an operator writes it: RFC 3339
// (2025-11-24T10:00:00Z), a date (2025-11-24, midnight UTC), Unix milliseconds
// (1763942400000), or a span before now (7d, 2w, 24h, 90m). endOfDay makes a
// date mean the end of that day (the next midnight), for the exclusive end of
// a range, so that --to 2025-11-24 includes the 24th.
func parseTime(s string, now time.Time, endOfDay bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return time.UnixMilli(ms).UTC(), nil
	}
	if m := spanRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		days := n
		if m[2] == "w" {
			days = 7 * n
		}
		return now.AddDate(0, 0, -days).UTC(), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2025-11-24T10:00:00Z), a date (2025-11-24), Unix ms, or a span before now (7d, 24h)", s)
}

// parsePlatform accepts instagram or messenger in any case.
func parsePlatform(s string) (event.Platform, error) {
	switch p := event.Platform(strings.ToUpper(strings.TrimSpace(s))); p {
	case event.Instagram, event.Messenger:
		return p, nil
	}
	return "", fmt.Errorf("platform %q: want instagram or messenger (any case)", s)
}

// timeRange is --from/--to as parsed: from inclusive, to exclusive.
type timeRange struct{ from, to time.Time }

// parseRange parses from and to (to defaults to now) and refuses a reversed or
// empty range, which would otherwise select nothing silently.
func parseRange(from, to string, now time.Time) (timeRange, error) {
	if from == "" {
		return timeRange{}, fmt.Errorf("--from is required")
	}
	f, err := parseTime(from, now, false)
	if err != nil {
		return timeRange{}, fmt.Errorf("--from: %w", err)
	}
	t := now
	if to != "" {
		if t, err = parseTime(to, now, true); err != nil {
			return timeRange{}, fmt.Errorf("--to: %w", err)
		}
	}
	if !f.Before(t) {
		return timeRange{}, fmt.Errorf("--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return timeRange{f, t}, nil
}
