package main

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// period is the stretch of days a page shows, chosen by the viewer in their
// time zone: ?period=today|7d|30d|custom, with ?from=&to= (YYYY-MM-DD, both
// included) for custom, and ?tz= (an IANA zone). Without tz the zone comes from
// the cookie console.js sets from the browser's, else UTC.
type period struct {
	Choice   string // today, 7d, 30d or custom
	From, To string // the first and last day, YYYY-MM-DD in Loc
	TZ       string
	Loc      *time.Location
	// Start and End are the instants [Start, End) the days cover.
	Start, End time.Time
	// AutoTZ asks console.js to set the browser's zone: the viewer chose none.
	AutoTZ bool
	Error  string
	Zones  []string // the time-zone select's choices
}

// tzCookie keeps the browser's time zone, set by console.js.
const tzCookie = "reftrail_tz"

// periodChoices are the choices of the period select, in order.
var periodChoices = []struct{ Value, Label string }{
	{"today", "Today"}, {"7d", "Last 7 days"}, {"30d", "Last 30 days"}, {"custom", "Chosen days"},
}

// zones are offered in the time-zone select; any other IANA zone works in the
// URL and is added to the select when chosen.
var zones = []string{
	"UTC", "America/Los_Angeles", "America/Chicago", "America/New_York", "America/Sao_Paulo", "Europe/London",
	"Europe/Berlin", "Europe/Istanbul", "Africa/Lagos", "Asia/Dubai", "Asia/Kolkata", "Asia/Jakarta",
	"Asia/Singapore", "Asia/Tokyo", "Australia/Sydney",
}

// readPeriod reads the period of r as of now; def is the choice without
// ?period (and without from/to). A mistake is kept in Error, with the default
// period in place so the page still shows something.
func readPeriod(r *http.Request, now time.Time, def string) period {
	q := r.URL.Query()
	p := period{Choice: q.Get("period"), TZ: q.Get("tz"), Loc: time.UTC}
	if p.TZ == "" {
		if c, err := r.Cookie(tzCookie); err == nil {
			if v, err := url.QueryUnescape(c.Value); err == nil {
				p.TZ = v
			}
		}
		p.AutoTZ = p.TZ == ""
	}
	if p.TZ == "" {
		p.TZ = "UTC"
	}
	if loc, err := loadZone(p.TZ); err != nil {
		p.Error = "Unknown time zone " + p.TZ + "; showing UTC."
		p.TZ = "UTC"
	} else {
		p.Loc = loc
	}
	p.Zones = zones
	if !slices.Contains(zones, p.TZ) {
		p.Zones = append([]string{p.TZ}, zones...)
	}
	if p.Choice == "" {
		p.Choice = def
		if q.Get("from") != "" || q.Get("to") != "" {
			p.Choice = "custom"
		}
	}
	y, m, d := now.In(p.Loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, p.Loc)
	first, last := today, today
	switch p.Choice {
	case "today":
	case "7d":
		first = today.AddDate(0, 0, -6)
	case "30d":
		first = today.AddDate(0, 0, -29)
	case "custom":
		f, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), p.Loc)
		t, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), p.Loc)
		switch {
		case err1 != nil || err2 != nil:
			p.Error = "Please give the dates as year-month-day, such as 2026-03-01."
		case t.Before(f):
			p.Error = "The last day comes before the first."
		case t.Sub(f) >= maxFunnelPeriod:
			p.Error = "Please choose at most a year."
		default:
			first, last = f, t
		}
		if p.Error != "" {
			first = today.AddDate(0, 0, -29)
		}
	default:
		p.Error = "Please choose today, the last 7 or 30 days, or chosen days."
		p.Choice, first = "30d", today.AddDate(0, 0, -29)
	}
	p.From, p.To = first.Format(time.DateOnly), last.Format(time.DateOnly)
	p.Start, p.End = first, last.AddDate(0, 0, 1)
	return p
}

// loadZone loads an IANA zone by name; Local is refused, since the server's
// zone means nothing to the viewer.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errLocalZone
	}
	return time.LoadLocation(name)
}

var errLocalZone = errors.New("tz: Local is the server's zone; name an IANA zone")

// Days are the midnights of the period's days in its zone, oldest first.
func (p period) Days() []time.Time {
	var out []time.Time
	for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// Query is the period as URL parameters, for links that keep it.
func (p period) Query() url.Values {
	v := url.Values{"period": {p.Choice}, "tz": {p.TZ}}
	if p.Choice == "custom" {
		v.Set("from", p.From)
		v.Set("to", p.To)
	}
	return v
}

// Choices are the period select's options.
func (p period) Choices() []struct{ Value, Label string } { return periodChoices }
