package meta

import (
	"encoding/json"
	"math"
	"strconv"
)

// Timestamp magnitudes. Meta sends Unix milliseconds mostly, seconds in some
// Instagram payloads, either as a number or a string. The two ranges cannot
// overlap for any real date: 1e11 seconds is the year 5138, while 1e11
// milliseconds is 1973-03-03, long before Meta sent webhooks.
const (
	// secondsBelow: a positive timestamp below it is in seconds.
	secondsBelow = 1e11
	// millisBelow: a timestamp from secondsBelow up to it is in
	// milliseconds; at or above it (the year 5138 in ms) it is neither, and is
	// rejected rather than guessed at (microseconds are not something Meta
	// sends).
	millisBelow = 1e14
)

// Plausible event times. Meta's messaging webhooks postdate minEventTime, and
// an event cannot happen much after ingest received it: maxAhead leaves room
// for clocks that disagree. Without a receive time, maxEventTime is the bound:
// the last second a ClickHouse DateTime holds (2106-02-07), past which it
// wraps. Anything else is a wrong timestamp, dead-lettered rather than stored
// in a far month.
const (
	minEventTime = 1262304000000 // 2010-01-01T00:00:00Z
	maxAhead     = 24 * 60 * 60 * 1000
	maxEventTime = (1<<32 - 1) * 1000
)

// plausibleTime reports whether ms (Unix ms) is a plausible event time for a
// payload received at received (Unix ms, 0 when unknown).
func plausibleTime(ms, received int64) bool {
	limit := int64(maxEventTime)
	if received > 0 {
		limit = min(limit, received+maxAhead)
	}
	return ms >= minEventTime && ms <= limit
}

// timestamp is an item's timestamp as Meta sent it: a JSON number or a string
// holding one, in seconds or milliseconds. UnmarshalJSON never fails, so that a
// bad timestamp costs its item (invalid_timestamp) and not the payload.
type timestamp struct {
	ms  int64  // Unix milliseconds, when valid
	set bool   // present and not null
	err string // why a present timestamp is invalid
}

func (t *timestamp) UnmarshalJSON(b []byte) error {
	*t = timestamp{}
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	t.set = true
	text := string(b)
	switch c := b[0]; {
	case c == '"':
		// A valid timestamp string is plain ASCII digits: anything with
		// escapes or other bytes fails parseTimestamp all the same.
		s, _ := plainString(b)
		text = s
	case c != '-' && (c < '0' || c > '9'):
		t.err = "timestamp is neither a number nor a string"
		return nil
	}
	ms, err := parseTimestamp(text)
	if err != "" {
		t.err = err
		return nil
	}
	t.ms = ms
	return nil
}

// parseTimestamp normalises a decimal timestamp (a JSON number's text, or the
// contents of a string) to Unix milliseconds by magnitude: below secondsBelow
// it is seconds (a fraction is kept, rounded to the millisecond), below
// millisBelow milliseconds (a fraction is dropped). The second result is why s
// is not a timestamp, or "".
func parseTimestamp(s string) (int64, string) {
	if !isJSONNumber(s) {
		return 0, "timestamp is not a decimal number"
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n <= 0:
			return 0, "timestamp is not positive"
		case n < secondsBelow:
			return n * 1000, ""
		case n < millisBelow:
			return n, ""
		}
		return 0, "timestamp is too large for seconds or milliseconds"
	}
	// A fraction, an exponent, or an integer beyond int64.
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil || f >= millisBelow:
		return 0, "timestamp is too large for seconds or milliseconds"
	case f < secondsBelow:
		if ms := int64(math.Round(f * 1000)); ms > 0 {
			return ms, ""
		}
		return 0, "timestamp is not positive"
	}
	return int64(f), ""
}

// isJSONNumber reports whether s follows JSON's number grammar. It keeps
// strconv's extras (hex, "Inf", "NaN", underscores, '+') out of strings.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i > start
	}
	if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

// flexID is an id Meta sends as a string; a JSON number is taken as its
// literal text, since a number there is a quirk, not a different id. Any
// other JSON type leaves it unset, so the item reports the id as missing.
type flexID struct {
	s   string
	set bool
}

func (f *flexID) UnmarshalJSON(b []byte) error {
	*f = flexID{}
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		if s, ok := plainString(b); ok {
			f.s, f.set = s, true
			return nil
		}
		var s string
		if json.Unmarshal(b, &s) == nil {
			f.s, f.set = s, true
		}
	case c == '-' || '0' <= c && c <= '9':
		f.s, f.set = string(b), true
	}
	return nil
}

// ptr is the id for an optional event field: nil when Meta left it out.
func (f flexID) ptr() *string {
	if !f.set {
		return nil
	}
	return &f.s
}

// plainString returns the contents of a JSON string literal without escapes
// or non-ASCII bytes, the common case for ids, without a second decode.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 {
		return "", false
	}
	for _, c := range b[1 : len(b)-1] {
		if c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	return string(b[1 : len(b)-1]), true
}

// present records that a key came with a non-null value, without decoding
// the value (reads, deliveries, reactions: counted, never kept).
type present bool

func (p *present) UnmarshalJSON(b []byte) error {
	*p = string(b) != "null"
	return nil
}
