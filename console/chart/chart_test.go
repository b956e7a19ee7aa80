package chart

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// drawn parses an SVG and returns the data-value of every element of class,
// in document order, and the svg's accessible description.
func drawn(t *testing.T, svg, class string) (values []string, desc string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	inDesc := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				attrs[a.Name.Local] = a.Value
			}
			if attrs["class"] == class {
				values = append(values, attrs["data-series"]+"|"+attrs["data-label"]+"|"+attrs["data-value"])
			}
			inDesc = tok.Name.Local == "desc"
		case xml.CharData:
			if inDesc {
				desc += string(tok)
			}
		case xml.EndElement:
			inDesc = false
		}
	}
	return values, desc
}

func TestCharts(t *testing.T) {
	series := []Series{{Name: "Opened", Values: []float64{12, 3}}, {Name: "Wrote", Values: []float64{6, 0}}}
	tests := []struct {
		name, svg, class string
		want             []string
		wantDesc         string
	}{
		{
			name: "bars", class: "bar",
			svg: string(Bars{ID: "f", Title: "Funnel <by campaign>", XLabel: "people", Labels: []string{"Spring & co", "(uncataloged)"}, Series: series,
				Note: func(s, l int) string { return "" }}.SVG()),
			want:     []string{"Opened|Spring &amp; co|12", "Wrote|Spring &amp; co|6", "Opened|(uncataloged)|3", "Wrote|(uncataloged)|0"},
			wantDesc: "Spring & co: Opened 12, Wrote 6; (uncataloged): Opened 3, Wrote 0.",
		},
		{
			name: "columns", class: "bar",
			svg:      string(Columns{ID: "d", Title: "Per day", Labels: []string{"Mon 2 Mar", "Tue 3 Mar", "Wed 4 Mar"}, Series: []Series{{Name: "Referrals", Values: []float64{2, 0, 5}}}}.SVG()),
			want:     []string{"Referrals|Mon 2 Mar|2", "Referrals|Tue 3 Mar|0", "Referrals|Wed 4 Mar|5"},
			wantDesc: "Mon 2 Mar: 2; Tue 3 Mar: 0; Wed 4 Mar: 5.",
		},
		{
			name: "line", class: "point",
			svg:      string(Line{ID: "m", Title: "Events per minute", Labels: []string{"10:00", "10:01"}, Series: []Series{{Name: "Events", Values: []float64{40, 2.5}}}}.SVG()),
			want:     []string{"Events|10:00|40", "Events|10:01|2.5"},
			wantDesc: "10:00: 40; 10:01: 2.5.",
		},
		{
			name: "empty", class: "bar",
			svg:      string(Columns{ID: "e", Title: "Nothing"}.SVG()),
			wantDesc: "No data.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The decoder unescapes attributes; compare with the escaped
			// form written by the test for readability.
			got, desc := drawn(t, tt.svg, tt.class)
			var want []string
			for _, w := range tt.want {
				want = append(want, strings.ReplaceAll(w, "&amp;", "&"))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("drawn %s (-want +got):\n%s", tt.class, diff)
			}
			if desc != tt.wantDesc {
				t.Errorf("description %q, want %q", desc, tt.wantDesc)
			}
			if !strings.Contains(tt.svg, `role="img"`) || strings.Contains(tt.svg, "<by") || strings.Contains(tt.svg, "NaN") {
				t.Errorf("svg not accessible, not escaped, or with NaN:\n%s", tt.svg)
			}
		})
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		max  float64
		want []float64
	}{
		{0, []float64{0}},
		{3, []float64{0, 1, 2, 3}},
		{12, []float64{0, 5, 10}},
		{1000, []float64{0, 250, 500, 750, 1000}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, ticks(tt.max)); diff != "" {
			t.Errorf("ticks(%v) (-want +got):\n%s", tt.max, diff)
		}
	}
}
