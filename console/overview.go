package main

import (
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/reftrail/reftrail/console/chart"
	"github.com/reftrail/reftrail/internal/chstore"
)

// topCampaigns is how many campaigns the overview ranks.
const topCampaigns = 5

// overviewPageData is the overview: links opened per day, the campaigns that
// convert best, and the pipeline's health, for a period.
type overviewPageData struct {
	Period period
	// CampaignsURL and DeadLettersURL show the same period on those pages.
	CampaignsURL, DeadLettersURL template.URL
	Daily                        []dayCount
	DayZone                      string
	DailyChart                   template.HTML
	Top                          []chstore.FunnelRow
	TopChart                     template.HTML
	Health                       healthView
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

	days, err := s.store.ReferralsPerDay(ctx, p.Start, p.End, p.Loc)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.DayZone = p.TZ
	for _, d := range days {
		data.Daily = append(data.Daily, dayCount{Day: d.Day, Label: d.Day.Format("Mon 2 Jan"), Referrals: d.Referrals})
	}
	data.DailyChart = dailyChart("daily-chart", "Links opened per day ("+data.DayZone+")", "Day ("+data.DayZone+")", data.Daily)

	if data.Top, err = s.store.TopCampaigns(ctx, p.Start, p.End, topCampaigns); err != nil {
		s.pageError(w, r, err)
		return
	}
	data.TopChart = conversionChart(data.Top)

	health, err := s.store.PipelineHealth(ctx, p.Start, p.End)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.Health = newHealthView(health, p, time.Now())
	data.DeadLetters = health.DeadLetters
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusBadRequest
	}
	s.render(w, r, status, "overview", "Overview", data)
}

// healthView is the overview's pipeline panel: how fresh the data is, and
// events per minute over the period.
type healthView struct {
	LastReceivedAt, LastInsertedAt time.Time
	ReceivedAgo, InsertedAgo       string
	// FreshnessP50 and P99 are receipt-to-storage delays in seconds: the
	// worst of the period's minutes.
	FreshnessP50, FreshnessP99 string
	Events, PeakPerMinute      uint64
	// Per is the width of the chart's points ("2 hours").
	Per         string
	MinuteChart template.HTML
}

// healthBuckets are the widths of the events chart's points, the narrowest
// that keeps the chart to maxHealthPoints points: a week has 10080 minutes.
var healthBuckets = []struct {
	minutes int
	label   string
}{
	{1, "minute"}, {5, "5 minutes"}, {15, "15 minutes"}, {30, "30 minutes"}, {60, "hour"},
	{120, "2 hours"}, {240, "4 hours"}, {360, "6 hours"}, {720, "12 hours"}, {1440, "day"},
}

const maxHealthPoints = 100

func newHealthView(h chstore.PipelineHealth, p period, now time.Time) healthView {
	v := healthView{LastReceivedAt: h.LastReceivedAt, LastInsertedAt: h.LastInsertedAt,
		ReceivedAgo: ago(now, h.LastReceivedAt), InsertedAgo: ago(now, h.LastInsertedAt)}
	var p50, p99 int64
	for _, m := range h.Minutes {
		v.Events += m.Events
		v.PeakPerMinute = max(v.PeakPerMinute, m.Events)
		p50, p99 = max(p50, m.FreshnessP50), max(p99, m.FreshnessP99)
	}
	v.FreshnessP50, v.FreshnessP99 = span(time.Duration(p50)*time.Second), span(time.Duration(p99)*time.Second)
	if len(h.Minutes) == 0 {
		return v
	}
	minutes := int(p.End.Sub(p.Start) / time.Minute)
	bucket := healthBuckets[len(healthBuckets)-1]
	for _, b := range healthBuckets {
		if minutes/b.minutes <= maxHealthPoints {
			bucket = b
			break
		}
	}
	sums := make([]uint64, (minutes+bucket.minutes-1)/bucket.minutes)
	for _, m := range h.Minutes {
		if i := int(m.Minute.Sub(p.Start)/time.Minute) / bucket.minutes; i >= 0 && i < len(sums) {
			sums[i] += m.Events
		}
	}
	c := chart.Line{ID: "events-chart", Title: "Events received per " + bucket.label, XLabel: "Time (" + p.TZ + ")", YLabel: "Events per " + bucket.label,
		Series: []chart.Series{{Name: "Events"}}}
	short := "15:04"
	if minutes > 24*60 {
		short = "2 Jan"
	}
	for i, sum := range sums {
		at := p.Start.Add(time.Duration(i*bucket.minutes) * time.Minute).In(p.Loc)
		c.Labels = append(c.Labels, at.Format("Mon 2 Jan 15:04"))
		c.Short = append(c.Short, at.Format(short))
		c.Series[0].Values = append(c.Series[0].Values, float64(sum))
	}
	v.Per, v.MinuteChart = bucket.label, c.SVG()
	return v
}

// ago says how long before now t was, in words: "3 minutes".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return span(now.Sub(t))
}

// span says d in words, in its largest whole unit: "1 hour", "2 days".
func span(d time.Duration) string {
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	for _, u := range units {
		// Two of a unit before switching to it, so 90 minutes stays minutes.
		if n := int(d / u.d); n >= 2 || (n == 1 && u.d == time.Second) {
			return plural(n, u.name)
		}
	}
	return plural(int(d/time.Second), "second")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
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
