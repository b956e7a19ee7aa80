// Package chart draws the console's charts as SVG on the server: no script,
// no network, nothing to load. A chart scales to its container's width (a
// viewBox), so it stays readable on a phone, and describes itself to screen
// readers: role="img", a title, and a description that reads out every
// value. Pages show the same numbers in a table beside the chart.
//
// Every bar is a rect of class "bar" and every point of a line a circle of
// class "point", each with a data-value attribute and a tooltip (title), so
// tests can count what was drawn and compare it with the data.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one named row of values, one per label of the chart.
type Series struct {
	Name   string
	Values []float64
}

// Colours of the series in order: dark enough for 4.5:1 contrast on white,
// and told apart by people with the common colour blindnesses (Okabe-Ito,
// darkened).
var palette = []string{"#1f4e79", "#a35200", "#00695c", "#8e3b72", "#5c5c00"}

// Bars is a horizontal bar chart: a group of bars per label (a campaign, a
// channel), one bar per series. Long names fit, since they stand on their own
// line above their bars.
type Bars struct {
	ID     string // unique on the page; prefixes the ids of title and description
	Title  string
	XLabel string // what the values count, under the axis
	Unit   string // written after each value ("%")
	Labels []string
	Series []Series
	// Note, when set, is written after a bar's value (e.g. a rate): the
	// series index and the label index select it.
	Note func(series, label int) string
}

// Layout of Bars, in viewBox units (CSS pixels at 360 wide, about a phone's width).
const (
	width    = 360
	barH     = 18
	barGap   = 4
	groupGap = 14
	labelH   = 18
	marginL  = 8
	marginR  = 150 // room for the value and its note after the longest bar
	axisH    = 40
	legendH  = 24
)

// SVG renders the chart.
func (c Bars) SVG() template.HTML {
	max := maxOf(c.Series)
	plotW := float64(width - marginL - marginR)
	var b strings.Builder
	legend := 0
	if len(c.Series) > 1 {
		legend = legendH
	}
	top := 4 + legend
	groupH := labelH + len(c.Series)*(barH+barGap) + groupGap
	height := top + len(c.Labels)*groupH + axisH
	open(&b, c.ID, c.Title, describe(c.Labels, c.Series), height)
	if legend > 0 {
		drawLegend(&b, c.Series, 2)
	}
	for i, label := range c.Labels {
		y := top + i*groupH
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="label">%s</text>`, marginL, y+13, esc(label))
		for s, series := range c.Series {
			v := value(series, i)
			w := scale(v, max, plotW)
			by := y + labelH + s*(barH+barGap)
			fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%s" height="%d" fill="%s" data-series="%s" data-label="%s" data-value="%s"><title>%s: %s, %s</title></rect>`,
				marginL, by, num(w), barH, colour(s), esc(series.Name), esc(label), num(v), esc(label), esc(series.Name), num(v))
			text := num(v) + c.Unit
			if c.Note != nil {
				if n := c.Note(s, i); n != "" {
					text += " (" + n + ")"
				}
			}
			fmt.Fprintf(&b, `<text x="%s" y="%d" class="value">%s</text>`, num(float64(marginL)+w+6), by+13, esc(text))
		}
	}
	axisY := top + len(c.Labels)*groupH
	drawXAxis(&b, max, plotW, axisY, c.XLabel)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Columns is a column chart over an ordered axis (days): one column per label,
// the series stacked. Labels may be thinned on the axis (Every); the
// description and tooltips name every one.
type Columns struct {
	ID     string
	Title  string
	XLabel string // what the labels are ("Day, Europe/Berlin")
	YLabel string // what the values count
	Labels []string
	// Short are the labels as written under the axis (e.g. "2 Mar"); Labels
	// when nil.
	Short  []string
	Series []Series
}

// Layout of Columns and Line.
const (
	plotTop    = 40
	plotH      = 220
	yAxisW     = 56
	xAxisH     = 58
	maxXLabels = 5
)

// SVG renders the chart.
func (c Columns) SVG() template.HTML {
	totals := make([]float64, len(c.Labels))
	for _, s := range c.Series {
		for i := range c.Labels {
			totals[i] += value(s, i)
		}
	}
	max := maxOf([]Series{{Values: totals}})
	var b strings.Builder
	height := plotTop + plotH + xAxisH
	open(&b, c.ID, c.Title, describe(c.Labels, c.Series), height)
	if len(c.Series) > 1 {
		drawLegend(&b, c.Series, 2)
	}
	plotW := float64(width - yAxisW - 12)
	step := plotW / float64(max1(len(c.Labels)))
	colW := math.Min(math.Max(step*0.7, 1), 40)
	drawYAxis(&b, max, plotW, c.YLabel)
	for i, label := range c.Labels {
		x := float64(yAxisW) + float64(i)*step + (step-colW)/2
		base := 0.0
		for s, series := range c.Series {
			v := value(series, i)
			h := scale(v, max, plotH)
			y := float64(plotTop+plotH) - scale(base+v, max, plotH)
			fmt.Fprintf(&b, `<rect class="bar" x="%s" y="%s" width="%s" height="%s" fill="%s" data-series="%s" data-label="%s" data-value="%s"><title>%s, %s: %s</title></rect>`,
				num(x), num(y), num(colW), num(h), colour(s), esc(series.Name), esc(label), num(v), esc(label), esc(series.Name), num(v))
			base += v
		}
	}
	drawXLabels(&b, c.Labels, c.Short, step)
	fmt.Fprintf(&b, `<text x="%s" y="%d" class="axis-title" text-anchor="middle">%s</text>`, num(float64(yAxisW)+plotW/2), height-6, esc(c.XLabel))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Line is a line chart over an ordered axis (minutes, days): one line per
// series, a point per label.
type Line struct {
	ID     string
	Title  string
	XLabel string
	YLabel string
	Labels []string
	Short  []string
	Series []Series
}

// SVG renders the chart.
func (c Line) SVG() template.HTML {
	max := maxOf(c.Series)
	var b strings.Builder
	height := plotTop + plotH + xAxisH
	open(&b, c.ID, c.Title, describe(c.Labels, c.Series), height)
	if len(c.Series) > 1 {
		drawLegend(&b, c.Series, 2)
	}
	plotW := float64(width - yAxisW - 12)
	step := plotW / float64(max1(len(c.Labels)))
	drawYAxis(&b, max, plotW, c.YLabel)
	for s, series := range c.Series {
		var path strings.Builder
		var points strings.Builder
		for i, label := range c.Labels {
			v := value(series, i)
			x := float64(yAxisW) + float64(i)*step + step/2
			y := float64(plotTop+plotH) - scale(v, max, plotH)
			if i == 0 {
				path.WriteString("M")
			} else {
				path.WriteString(" L")
			}
			path.WriteString(num(x) + " " + num(y))
			fmt.Fprintf(&points, `<circle class="point" cx="%s" cy="%s" r="3" fill="%s" data-series="%s" data-label="%s" data-value="%s"><title>%s, %s: %s</title></circle>`,
				num(x), num(y), colour(s), esc(series.Name), esc(label), num(v), esc(label), esc(series.Name), num(v))
		}
		if len(c.Labels) > 1 {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, path.String(), colour(s))
		}
		b.WriteString(points.String())
	}
	drawXLabels(&b, c.Labels, c.Short, step)
	fmt.Fprintf(&b, `<text x="%s" y="%d" class="axis-title" text-anchor="middle">%s</text>`, num(float64(yAxisW)+plotW/2), height-6, esc(c.XLabel))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// open starts the svg element with its title and description, which
// aria-labelledby reads out; pages write the title as a heading, so the
// picture does not repeat it.
func open(b *strings.Builder, id, title, desc string, height int) {
	fmt.Fprintf(b, `<svg class="chart" id="%s" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" xmlns="http://www.w3.org/2000/svg">`,
		esc(id), width, height, esc(id), esc(id))
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
}

// describe says every value in words, for screen readers.
func describe(labels []string, series []Series) string {
	var parts []string
	for i, l := range labels {
		var vs []string
		for _, s := range series {
			if len(series) == 1 {
				vs = append(vs, num(value(s, i)))
			} else {
				vs = append(vs, s.Name+" "+num(value(s, i)))
			}
		}
		parts = append(parts, l+": "+strings.Join(vs, ", "))
	}
	if len(parts) == 0 {
		return "No data."
	}
	return strings.Join(parts, "; ") + "."
}

func drawLegend(b *strings.Builder, series []Series, y int) {
	x := marginL
	for s, ser := range series {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" class="legend">%s</text>`,
			x, y, colour(s), x+16, y+11, esc(ser.Name))
		x += 16 + 8*len([]rune(ser.Name)) + 18
	}
}

// drawXAxis is the value axis under Bars: ticks at round numbers.
func drawXAxis(b *strings.Builder, max, plotW float64, y int, label string) {
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%s" y2="%d" stroke="#57606a"/>`, marginL, y, num(float64(marginL)+plotW), y)
	for _, t := range ticks(max) {
		x := float64(marginL) + scale(t, max, plotW)
		fmt.Fprintf(b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#57606a"/><text x="%s" y="%d" class="tick" text-anchor="middle">%s</text>`,
			num(x), y, num(x), y+4, num(x), y+17, num(t))
	}
	fmt.Fprintf(b, `<text x="%s" y="%d" class="axis-title" text-anchor="middle">%s</text>`, num(float64(marginL)+plotW/2), y+34, esc(label))
}

// drawYAxis is the value axis left of Columns and Line, with grid lines.
func drawYAxis(b *strings.Builder, max, plotW float64, label string) {
	bottom := plotTop + plotH
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#57606a"/>`, yAxisW, plotTop, yAxisW, bottom)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%s" y2="%d" stroke="#57606a"/>`, yAxisW, bottom, num(float64(yAxisW)+plotW), bottom)
	for _, t := range ticks(max) {
		y := float64(bottom) - scale(t, max, plotH)
		fmt.Fprintf(b, `<line x1="%d" y1="%s" x2="%s" y2="%s" stroke="#d0d7de"/><text x="%d" y="%s" class="tick" text-anchor="end">%s</text>`,
			yAxisW, num(y), num(float64(yAxisW)+plotW), num(y), yAxisW-6, num(y+4), num(t))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" class="axis-title">%s</text>`, marginL, plotTop-8, esc(label))
}

// drawXLabels writes at most maxXLabels labels under the columns, evenly
// thinned, so that they never overlap.
func drawXLabels(b *strings.Builder, labels, short []string, step float64) {
	if short == nil {
		short = labels
	}
	every := (len(labels) + maxXLabels - 1) / maxXLabels
	for i := range labels {
		if i%max1(every) != 0 || i >= len(short) {
			continue
		}
		x := float64(yAxisW) + float64(i)*step + step/2
		fmt.Fprintf(b, `<text x="%s" y="%d" class="tick" text-anchor="middle">%s</text>`, num(x), plotTop+plotH+18, esc(short[i]))
	}
}

// ticks are up to 5 round values from 0 to max.
func ticks(max float64) []float64 {
	if max <= 0 {
		return []float64{0}
	}
	raw := max / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if step < 1 {
		step = 1 // counts: no fractional ticks
	}
	var out []float64
	for t := 0.0; t <= max+step/1e9; t += step {
		out = append(out, t)
	}
	return out
}

func scale(v, max, length float64) float64 {
	if max <= 0 || v <= 0 {
		return 0
	}
	return v / max * length
}

func maxOf(series []Series) float64 {
	m := 0.0
	for _, s := range series {
		for _, v := range s.Values {
			m = math.Max(m, v)
		}
	}
	return m
}

func value(s Series, i int) float64 {
	if i < len(s.Values) {
		return s.Values[i]
	}
	return 0
}

func colour(i int) string { return palette[i%len(palette)] }

func max1(n int) int { return max(n, 1) }

// num writes a number without needless decimals: counts as integers,
// positions to a tenth.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func esc(s string) string { return html.EscapeString(s) }
