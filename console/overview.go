package main

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/reftrail/reftrail/console/chart"
	"github.com/reftrail/reftrail/internal/chstore"
)

// topCampaigns is how many campaigns the overview ranks.
const topCampaigns = 5

// overviewPageData is the overview: links opened per day, the campaigns that
// convert best, and the pipeline's dead letters, for a period.
type overviewPageData struct {
	Period period
	// CampaignsURL and DeadLettersURL show the same period on those pages.
	CampaignsURL, DeadLettersURL template.URL
	Daily                        []dayCount
	DayZone                      string
	DailyChart                   template.HTML
	Top                          []chstore.FunnelRow
	TopChart                     template.HTML
	DeadLetters                  []chstore.DeadLetterCount
}

// dayCount is one day of a per-day chart.
type dayCount struct {
	Day       time.Time
	Label     string
	Referrals uint64
}

// overviewPage is GET /overview?period=&from=&to=&tz=.
func (s *server) overviewPage(w http.ResponseWriter, r *http.Request) {
	p := readPeriod(r, time.Now(), "7d")
	q := p.Query().Encode()
	data := overviewPageData{Period: p, CampaignsURL: template.URL("/campaigns?" + q), DeadLettersURL: template.URL("/dead-letters?" + q)}
	ctx := r.Context()

	daily, err := s.store.ReferralsDaily(ctx, p.Start, p.End, "campaign")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	// ReferralsDaily counts UTC days: the period's instants, bucketed by UTC
	// date.
	data.DayZone = "UTC"
	perDay := map[string]uint64{}
	for _, d := range daily {
		perDay[d.Day.Format(time.DateOnly)] += d.Referrals
	}
	for d := utcMidnight(p.Start); d.Before(p.End); d = d.AddDate(0, 0, 1) {
		data.Daily = append(data.Daily, dayCount{Day: d, Label: d.Format("Mon 2 Jan"), Referrals: perDay[d.Format(time.DateOnly)]})
	}
	data.DailyChart = dailyChart("daily-chart", "Links opened per day ("+data.DayZone+")", "Day ("+data.DayZone+")", data.Daily)

	funnel, err := s.store.Funnel(ctx, p.Start, p.End, "campaign")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.Top = rankByConversion(funnel, topCampaigns)
	data.TopChart = conversionChart(data.Top)

	if data.DeadLetters, err = s.store.DeadLetterCounts(ctx, p.Start, p.End); err != nil {
		s.pageError(w, r, err)
		return
	}
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "overview", "Overview", data)
}

func utcMidnight(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// rankByConversion orders rows by conversion (wrote / opened), then by
// openings, then by name, and keeps the first n.
func rankByConversion(rows []chstore.FunnelRow, n int) []chstore.FunnelRow {
	out := slices.Clone(rows)
	slices.SortFunc(out, func(a, b chstore.FunnelRow) int {
		if c := cmp.Compare(b.ConversedRate, a.ConversedRate); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Referrals, a.Referrals); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// dailyChart draws days as columns.
func dailyChart(id, title, axis string, days []dayCount) template.HTML {
	c := chart.Columns{ID: id, Title: title, XLabel: axis, YLabel: "Links opened", Series: []chart.Series{{Name: "Links opened"}}}
	for _, d := range days {
		c.Labels = append(c.Labels, d.Label)
		c.Short = append(c.Short, d.Day.Format("2 Jan"))
		c.Series[0].Values = append(c.Series[0].Values, float64(d.Referrals))
	}
	return c.SVG()
}

// conversionChart draws each row's conversion in percent.
func conversionChart(rows []chstore.FunnelRow) template.HTML {
	c := chart.Bars{ID: "top-chart", Title: "Conversion: people who wrote after opening a link", XLabel: "Percent who wrote",
		Unit: "%", Series: []chart.Series{{Name: "Conversion"}}}
	for _, r := range rows {
		c.Labels = append(c.Labels, groupName(r.Name))
		c.Series[0].Values = append(c.Series[0].Values, float64(int(100*r.ConversedRate+0.5)))
	}
	c.Note = func(_, i int) string {
		return strconv.FormatUint(rows[i].Conversed, 10) + " of " + strconv.FormatUint(rows[i].Referrals, 10)
	}
	return c.SVG()
}

func groupName(name string) string {
	if name == "" {
		return "(no campaign)"
	}
	return name
}

// funnelChart draws the funnel's stages per group, each stage with its rate.
func funnelChart(by string, rows []chstore.FunnelRow) template.HTML {
	c := chart.Bars{ID: "funnel-chart", Title: "What people did after opening a link, by " + by, XLabel: "People",
		Series: []chart.Series{{Name: "Opened"}, {Name: "Wrote"}, {Name: "Got a reply"}, {Name: "Came back"}}}
	for _, r := range rows {
		c.Labels = append(c.Labels, groupName(r.Name))
		for i, v := range []uint64{r.Referrals, r.Conversed, r.Answered, r.Returned} {
			c.Series[i].Values = append(c.Series[i].Values, float64(v))
		}
	}
	c.Note = func(series, i int) string {
		r := rows[i]
		switch series {
		case 1:
			return percent(r.ConversedRate)
		case 2:
			return percent(r.AnsweredRate)
		case 3:
			return percent(r.ReturnedRate)
		}
		return ""
	}
	return c.SVG()
}

// creditChart draws first- and last-touch credit side by side.
func creditChart(rows []chstore.AttributionRow) template.HTML {
	c := chart.Bars{ID: "credit-chart", Title: "New conversations credited to the first and the latest link", XLabel: "New conversations",
		Series: []chart.Series{{Name: "First link"}, {Name: "Latest link"}}}
	for _, r := range rows {
		c.Labels = append(c.Labels, groupName(r.Name))
		c.Series[0].Values = append(c.Series[0].Values, float64(r.FirstTouch))
		c.Series[1].Values = append(c.Series[1].Values, float64(r.LastTouch))
	}
	return c.SVG()
}

// stackedDailyChart draws the daily table's days as columns, each group a
// stacked part.
func stackedDailyChart(t dailyTable) template.HTML {
	c := chart.Columns{ID: "daily-chart", Title: "Links opened per day (UTC)", XLabel: "Day (UTC)", YLabel: "Links opened"}
	for _, name := range t.Names {
		c.Series = append(c.Series, chart.Series{Name: groupName(name)})
	}
	for _, d := range t.Days {
		c.Labels = append(c.Labels, d.Day.Format("Mon 2 Jan"))
		c.Short = append(c.Short, d.Day.Format("2 Jan"))
		for i, n := range d.Counts {
			c.Series[i].Values = append(c.Series[i].Values, float64(n))
		}
	}
	return c.SVG()
}

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" }

// deadLettersShown is how many of the newest dead letters the page lists.
const deadLettersShown = 50

// deadLettersPageData is the dead letters page: counts by reason and stage,
// and the newest, redacted.
type deadLettersPageData struct {
	Period   period
	From, To string // the period as RFC 3339, for the replay command
	Counts   []chstore.DeadLetterCount
	Chart    template.HTML
	Newest   []chstore.DeadLetterInfo
}

// deadLettersPage is GET /dead-letters?period=&from=&to=&tz=.
func (s *server) deadLettersPage(w http.ResponseWriter, r *http.Request) {
	p := readPeriod(r, time.Now(), "7d")
	data := deadLettersPageData{Period: p, From: p.Start.UTC().Format(time.RFC3339), To: p.End.UTC().Format(time.RFC3339)}
	var err error
	if data.Counts, err = s.store.DeadLetterCounts(r.Context(), p.Start, p.End); err != nil {
		s.pageError(w, r, err)
		return
	}
	if data.Newest, err = s.store.RecentDeadLetters(r.Context(), p.Start, p.End, deadLettersShown); err != nil {
		s.pageError(w, r, err)
		return
	}
	c := chart.Bars{ID: "dead-chart", Title: "Dead letters by reason and stage", XLabel: "Dead letters", Series: []chart.Series{{Name: "Dead letters"}}}
	for _, d := range data.Counts {
		c.Labels = append(c.Labels, d.Reason+" ("+d.Stage+")")
		c.Series[0].Values = append(c.Series[0].Values, float64(d.DeadLetters))
	}
	data.Chart = c.SVG()
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "dead-letters", "Dead letters", data)
}
