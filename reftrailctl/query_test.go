package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2025, 11, 24, 12, 0, 0, 0, time.UTC)

func TestParseTime(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		endOfDay bool
		want     time.Time
		wantErr  bool
	}{
		{name: "RFC 3339", in: "2025-11-20T10:30:00Z", want: time.Date(2025, 11, 20, 10, 30, 0, 0, time.UTC)},
		{name: "RFC 3339 with offset", in: "2025-11-20T10:30:00+02:00", want: time.Date(2025, 11, 20, 8, 30, 0, 0, time.UTC)},
		{name: "date", in: "2025-11-20", want: time.Date(2025, 11, 20, 0, 0, 0, 0, time.UTC)},
		{name: "date as an end", in: "2025-11-20", endOfDay: true, want: time.Date(2025, 11, 21, 0, 0, 0, 0, time.UTC)},
		{name: "Unix ms", in: "1763942400000", want: time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)},
		{name: "days before now", in: "7d", want: testNow.AddDate(0, 0, -7)},
		{name: "weeks before now", in: "2w", want: testNow.AddDate(0, 0, -14)},
		{name: "hours before now", in: "24h", want: testNow.Add(-24 * time.Hour)},
		{name: "word", in: "yesterday", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTime(tt.in, testNow, tt.endOfDay)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseTime(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("parseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseParams(t *testing.T) {
	const msQuery = "SELECT {from_ms:Int64}, {to_ms:Int64}, {platform:String}, {account_id:String}"
	const dayQuery = "SELECT {from_day:String}, {to_day:String}"
	tests := []struct {
		name    string
		query   string
		args    []string
		want    map[string]any
		wantErr string
	}{
		{name: "SQL names and Unix ms", query: msQuery,
			args: []string{"from_ms=1762128000000", "to_ms=1763903353845", "platform=INSTAGRAM", "account_id=17"},
			want: map[string]any{"from_ms": int64(1762128000000), "to_ms": int64(1763903353845), "platform": "INSTAGRAM", "account_id": "17"}},
		{name: "aliases, dates, any case", query: msQuery,
			args: []string{"from=2025-11-03", "to=2025-11-23", "platform=Instagram", "account=17"},
			want: map[string]any{"from_ms": int64(1762128000000), "to_ms": int64(1763942400000), "platform": "INSTAGRAM", "account_id": "17"}},
		{name: "span, to defaults to now", query: msQuery,
			args: []string{"from=7d", "platform=messenger", "account_id=a=b"},
			want: map[string]any{"from_ms": testNow.AddDate(0, 0, -7).UnixMilli(), "to_ms": testNow.UnixMilli(), "platform": "MESSENGER", "account_id": "a=b"}},
		{name: "days from any time", query: dayQuery, args: []string{"from=2025-11-20T23:00:00Z", "to=2025-11-20"},
			want: map[string]any{"from_day": "2025-11-20", "to_day": "2025-11-20"}},
		{name: "reversed range", query: msQuery, args: []string{"from=2025-11-23", "to=2025-11-03", "platform=instagram", "account=1"},
			wantErr: "from_ms 2025-11-23T00:00:00Z is not before to_ms 2025-11-04T00:00:00Z"},
		{name: "reversed days", query: dayQuery, args: []string{"from=2025-11-23", "to=2025-11-03"},
			wantErr: "from_day 2025-11-23 is after to_day 2025-11-03"},
		{name: "unknown platform", query: msQuery, args: []string{"platform=whatsapp"},
			wantErr: `parameter platform: platform "whatsapp": want instagram or messenger (any case)`},
		{name: "not name=value", query: msQuery, args: []string{"from_ms"}, wantErr: `parameter "from_ms": want name=value`},
		{name: "undeclared", query: dayQuery, args: []string{"ref=x"}, wantErr: "parameter ref: the query takes from_day, to_day"},
		{name: "not a time", query: msQuery, args: []string{"from=yesterday"},
			wantErr: `parameter from_ms: "yesterday" is not a time: use RFC 3339 (2025-11-24T10:00:00Z), a date (2025-11-24), Unix ms, or a span before now (7d, 24h)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseParams(tt.query, tt.args, testNow)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parseParams = %v, want error %q", err, tt.wantErr)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" || err != nil {
				t.Errorf("parseParams (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
}

// TestQueryListsNames checks that query without a name, or with a wrong one,
// names every query instead of failing on a file name.
func TestQueryListsNames(t *testing.T) {
	getenv := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"query"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("run(query) = %v", err)
	}
	err := run(context.Background(), []string{"query", "funel"}, getenv, io.Discard, &errOut)
	if err == nil || err.Error() != `no query named "funel"` {
		t.Fatalf("run(query funel) = %v, want no query named", err)
	}
	for _, name := range []string{"attribution", "campaign_daily", "funnel", "open_windows", "participant", "participant_history", "pipeline_health"} {
		if !strings.Contains(out.String(), "  "+name+" ") {
			t.Errorf("query without a name does not list %s:\n%s", name, out.String())
		}
		if !strings.Contains(errOut.String(), "  "+name+" ") {
			t.Errorf("query with a wrong name does not list %s:\n%s", name, errOut.String())
		}
	}
}
