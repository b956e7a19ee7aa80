package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestReadPeriod(t *testing.T) {
	// 23:30 UTC on 2 March is already 3 March in Tokyo.
	now := time.Date(2026, 3, 2, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		name, query, cookie string
		choice, from, to    string
		start, end          string // RFC 3339, UTC
		autoTZ              bool
		err                 bool
	}{
		{name: "default", query: "", choice: "7d", from: "2026-02-24", to: "2026-03-02",
			start: "2026-02-24T00:00:00Z", end: "2026-03-03T00:00:00Z", autoTZ: true},
		{name: "today in Tokyo", query: "period=today&tz=Asia/Tokyo", choice: "today", from: "2026-03-03", to: "2026-03-03",
			start: "2026-03-02T15:00:00Z", end: "2026-03-03T15:00:00Z"},
		{name: "zone from the cookie", query: "period=today", cookie: "America%2FNew_York", choice: "today", from: "2026-03-02", to: "2026-03-02",
			start: "2026-03-02T05:00:00Z", end: "2026-03-03T05:00:00Z"},
		{name: "30 days", query: "period=30d&tz=UTC", choice: "30d", from: "2026-02-01", to: "2026-03-02",
			start: "2026-02-01T00:00:00Z", end: "2026-03-03T00:00:00Z"},
		{name: "days without period are custom", query: "from=2026-03-01&to=2026-03-03", choice: "custom", from: "2026-03-01", to: "2026-03-03",
			start: "2026-03-01T00:00:00Z", end: "2026-03-04T00:00:00Z", autoTZ: true},
		{name: "custom across a DST change", query: "period=custom&from=2026-03-28&to=2026-03-29&tz=Europe/Berlin", choice: "custom", from: "2026-03-28", to: "2026-03-29",
			start: "2026-03-27T23:00:00Z", end: "2026-03-29T22:00:00Z"},
		{name: "last before first", query: "period=custom&from=2026-03-03&to=2026-03-01&tz=UTC", choice: "custom", from: "2026-02-01", to: "2026-03-02",
			start: "2026-02-01T00:00:00Z", end: "2026-03-03T00:00:00Z", err: true},
		{name: "unknown zone", query: "period=today&tz=Mars/Olympus", choice: "today", from: "2026-03-02", to: "2026-03-02",
			start: "2026-03-02T00:00:00Z", end: "2026-03-03T00:00:00Z", err: true},
		{name: "Local refused", query: "period=today&tz=Local", choice: "today", from: "2026-03-02", to: "2026-03-02",
			start: "2026-03-02T00:00:00Z", end: "2026-03-03T00:00:00Z", err: true},
		{name: "unknown period", query: "period=year&tz=UTC", choice: "30d", from: "2026-02-01", to: "2026-03-02",
			start: "2026-02-01T00:00:00Z", end: "2026-03-03T00:00:00Z", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/overview?"+tt.query, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: tzCookie, Value: tt.cookie})
			}
			p := readPeriod(r, now, "7d")
			got := []string{p.Choice, p.From, p.To, p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339)}
			want := []string{tt.choice, tt.from, tt.to, tt.start, tt.end}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("period = %q, want %q", got, want)
					break
				}
			}
			if p.AutoTZ != tt.autoTZ || (p.Error != "") != tt.err {
				t.Errorf("AutoTZ %v, Error %q; want AutoTZ %v, an error %v", p.AutoTZ, p.Error, tt.autoTZ, tt.err)
			}
		})
	}
}
