package deploy_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reftrail/reftrail/schemas"
)

var update = flag.Bool("update", false, "rewrite "+dashboardFile+" from the panels and queries")

const (
	dashboardFile  = "deploy/grafana/dashboards/reftrail.json"
	datasourceFile = "deploy/grafana/provisioning/datasources/clickhouse.yaml"
	providerFile   = "deploy/grafana/provisioning/dashboards/reftrail.yaml"
)

// grafanaParams binds the {name:Type} parameters of schemas/clickhouse/queries
// to what a Grafana dashboard knows: its time range, as Unix ms (${__from},
// ${__to}) or as UTC days (the dashboard's time zone is UTC, like the tables),
// and, for open_windows, the server's clock, since its state is the latest
// whatever the range; the links catalog's roll-ups group by campaign. Each keeps the declared type, as chstore.BindQuery does.
var grafanaParams = map[string]string{
	"from_ms:Int64":   "toInt64(${__from})",
	"to_ms:Int64":     "toInt64(${__to})",
	"now_ms:Int64":    "(toInt64(toUnixTimestamp(now())) * 1000)",
	"from_day:String": "'${__from:date:YYYY-MM-DD}'",
	"to_day:String":   "'${__to:date:YYYY-MM-DD}'",
	// The catalog roll-ups, by campaign: the marketers' view.
	"by:String": "'campaign'",
	// funnel_by judges every referral from events: only Store.Funnel
	// settles outcomes.
	"settled_to_ms:Int64": "toInt64(0)",
}

// placeholderRE matches a query parameter, as in chstore.BindQuery.
var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9]+)\}`)

// dashboardPanel is one panel of the dashboard, running one query file.
type dashboardPanel struct {
	title string
	query string // schemas/clickhouse/queries/<query>.sql
	// timeSeries draws the rows over time (the query's first column is the
	// time); otherwise they are a table.
	timeSeries bool
	// fields, when set, is a regexp of the columns drawn, for a query that
	// feeds several panels.
	fields string
	unit   string
	x, y   int
	w, h   int
}

// panels lays out the dashboard: pipeline health on top, then the questions
// the queries answer. The participant queries need a participant, which a
// dashboard-wide panel cannot choose; they stay for the API and the CLI.
var panels = []dashboardPanel{
	{title: "Events received per minute", query: "pipeline_health", timeSeries: true, fields: "^(minute|events)$", unit: "short", x: 0, y: 0, w: 8, h: 8},
	{title: "Delay from Meta to ingest", query: "pipeline_health", timeSeries: true, fields: "^(minute|delay_p.*)$", unit: "ms", x: 8, y: 0, w: 8, h: 8},
	{title: "Freshness: ingest to ClickHouse", query: "pipeline_health", timeSeries: true, fields: "^(minute|freshness_p.*)$", unit: "s", x: 16, y: 0, w: 8, h: 8},
	{title: "Funnel per ref", query: "funnel", unit: "short", x: 0, y: 8, w: 24, h: 10},
	{title: "Attribution: first and last touch", query: "attribution", unit: "short", x: 0, y: 18, w: 12, h: 10},
	{title: "Open 24-hour windows (now)", query: "open_windows", x: 12, y: 18, w: 12, h: 10},
	{title: "Campaigns per day", query: "campaign_daily", unit: "short", x: 0, y: 28, w: 24, h: 10},
	{title: "Funnel by campaign (links catalog)", query: "funnel_by", unit: "short", x: 0, y: 38, w: 16, h: 8},
	{title: "Attribution by campaign", query: "attribution_by", unit: "short", x: 16, y: 38, w: 8, h: 8},
}

// grafanaSQL returns a query file with its parameters bound by grafanaParams.
// The comments stay: they tell the reader of the panel what it counts.
func grafanaSQL(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(schemas.ClickHouse, "clickhouse/queries/"+name+".sql")
	if err != nil {
		t.Fatal(err)
	}
	return placeholderRE.ReplaceAllStringFunc(string(b), func(p string) string {
		expr, ok := grafanaParams[strings.Trim(p, "{}")]
		if !ok {
			t.Errorf("query %s: parameter %s has no Grafana binding in grafanaParams", name, p)
		}
		return expr
	})
}

// summary returns the first paragraph of a query file's leading comment,
// which says what the query answers.
func summary(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(schemas.ClickHouse, "clickhouse/queries/"+name+".sql")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.Lines(string(b)) {
		text, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		text = strings.TrimSpace(text)
		if !ok || text == "" {
			break
		}
		lines = append(lines, text)
	}
	return strings.Join(lines, " ")
}

type datasourceProvisioning struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name           string            `yaml:"name"`
		UID            string            `yaml:"uid"`
		Type           string            `yaml:"type"`
		IsDefault      bool              `yaml:"isDefault"`
		Editable       bool              `yaml:"editable"`
		JSONData       map[string]any    `yaml:"jsonData"`
		SecureJSONData map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
}

func loadDatasources(t *testing.T) (datasourceProvisioning, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, datasourceFile))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p datasourceProvisioning
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("parsing %s: %v", datasourceFile, err)
	}
	if len(p.Datasources) != 1 || p.Datasources[0].Type != "grafana-clickhouse-datasource" || p.Datasources[0].UID == "" {
		t.Fatalf("%s: want one grafana-clickhouse-datasource with a uid", datasourceFile)
	}
	return p, b
}

// buildDashboard returns the dashboard JSON for panels, on the provisioned
// data source.
func buildDashboard(t *testing.T) []byte {
	t.Helper()
	p, _ := loadDatasources(t)
	ds := map[string]any{"type": p.Datasources[0].Type, "uid": p.Datasources[0].UID}
	var out []any
	for i, pn := range panels {
		kind, queryType, format := "table", "table", 1
		if pn.timeSeries {
			kind, queryType, format = "timeseries", "timeSeries", 0
		}
		panel := map[string]any{
			"id":          i + 1,
			"type":        kind,
			"title":       pn.title,
			"description": summary(t, pn.query) + "\n\nSource: schemas/clickhouse/queries/" + pn.query + ".sql",
			"datasource":  ds,
			"gridPos":     map[string]int{"x": pn.x, "y": pn.y, "w": pn.w, "h": pn.h},
			"fieldConfig": map[string]any{"defaults": map[string]any{"unit": pn.unit}, "overrides": []any{}},
			"options":     map[string]any{},
			"targets": []any{map[string]any{
				"refId":      "A",
				"datasource": ds,
				"editorType": "sql",
				"queryType":  queryType,
				"format":     format,
				"rawSql":     grafanaSQL(t, pn.query),
			}},
		}
		if pn.fields != "" {
			panel["transformations"] = []any{map[string]any{
				"id":      "filterFieldsByName",
				"options": map[string]any{"include": map[string]any{"pattern": pn.fields}},
			}}
		}
		out = append(out, panel)
	}
	dashboard := map[string]any{
		"uid":           "reftrail",
		"title":         "reftrail",
		"description":   "Generated from schemas/clickhouse/queries by the tests in deploy/ (go test ./deploy -update); edit there, not in Grafana.",
		"tags":          []string{"reftrail"},
		"timezone":      "utc",
		"editable":      false,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "1m",
		"time":          map[string]string{"from": "now-7d", "to": "now"},
		"annotations":   map[string]any{"list": []any{}},
		"templating":    map[string]any{"list": []any{}},
		"panels":        out,
	}
	// Unescaped, so the SQL's < and > read as such in the file.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(dashboard); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDashboard checks that the provisioned dashboard is the one built from
// the query files, so a panel cannot drift from the reviewed SQL. Run with
// -update to regenerate it after changing a query or the panels.
func TestDashboard(t *testing.T) {
	want := buildDashboard(t)
	file := filepath.Join(root, dashboardFile)
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go test ./deploy -update", dashboardFile)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ RawSQL string }
		}
	}
	if err := json.Unmarshal(got, &d); err != nil {
		t.Fatalf("parsing %s: %v", dashboardFile, err)
	}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 || strings.TrimSpace(p.Targets[0].RawSQL) == "" {
			t.Errorf("panel %q has no SQL", p.Title)
		}
		if placeholderRE.MatchString(p.Targets[0].RawSQL) {
			t.Errorf("panel %q has an unbound {name:Type} parameter", p.Title)
		}
	}
}

// TestGrafanaProvisioning checks the data source and the dashboard provider
// against docker-compose.yml: the data source reaches the ClickHouse that sink
// writes to, with credentials Grafana's environment has, and the provider
// reads the directory where compose mounts the dashboard.
func TestGrafanaProvisioning(t *testing.T) {
	f := loadCompose(t)
	grafana, ok := f.Services["grafana"]
	if !ok {
		t.Fatal("docker-compose.yml has no grafana service")
	}
	sink := f.Services["sink"].Environment
	p, raw := loadDatasources(t)
	ds := p.Datasources[0]
	if addr := ds.JSONData["host"].(string) + ":" + toString(ds.JSONData["port"]); addr != sink["CLICKHOUSE_ADDR"] {
		t.Errorf("data source reaches %s, sink writes to CLICKHOUSE_ADDR=%s", addr, sink["CLICKHOUSE_ADDR"])
	}
	if db := ds.JSONData["defaultDatabase"]; db != sink["CLICKHOUSE_DATABASE"] {
		t.Errorf("data source's defaultDatabase = %v, sink writes to CLICKHOUSE_DATABASE=%s", db, sink["CLICKHOUSE_DATABASE"])
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := grafana.Environment[m[1]]; !ok {
			t.Errorf("%s uses ${%s}, which grafana's environment does not set", datasourceFile, m[1])
		}
	}

	var providers struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	b, err := os.ReadFile(filepath.Join(root, providerFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &providers); err != nil || len(providers.Providers) != 1 {
		t.Fatalf("parsing %s: want one provider (%v)", providerFile, err)
	}
	dir := providers.Providers[0].Options.Path
	mounted := false
	for _, v := range grafana.Volumes {
		src, target := parseMount(t, v)
		if target == dir && path.Clean(src) == path.Dir(dashboardFile) {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("%s reads %s, where grafana does not mount ./%s", providerFile, dir, path.Dir(dashboardFile))
	}
	if home := grafana.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != path.Join(dir, path.Base(dashboardFile)) {
		t.Errorf("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH = %s, want %s", home, path.Join(dir, path.Base(dashboardFile)))
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}
