package main

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
)

const queryUsage = `query [NAME [name=value ...]]

Runs schemas/clickhouse/queries/NAME.sql and prints the result as a table;
without NAME, lists the queries. Parameters are bound client-side, so every
query runs on ClickHouse 18.16 too. Friendlier than the SQL's own names:
  from=, to=      the period: RFC 3339, a date (2025-11-24; as to, the whole
                  day is included), Unix ms, or a span before now (7d, 24h);
                  to defaults to now. from must be before to.
  now=            for open_windows; defaults to now.
  platform=       instagram or messenger, any case.
  account=, participant=   for account_id=, participant_id=.
The SQL's names (from_ms=, to_day=, account_id=, ...) work too.`

func runQuery(ctx context.Context, args []string, env environment) error {
	fs := newFlags("query", queryUsage, env)
	if ok, err := parseFlags(fs, args); !ok {
		return err
	}
	cfg, err := configFromEnv(env.getenv)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return listQueries(env.stdout)
	}
	name := fs.Arg(0)
	names, err := chstore.QueryNames()
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		listQueries(env.stderr)
		return fmt.Errorf("no query named %q", name)
	}
	text, err := chstore.Query(name)
	if err != nil {
		return err
	}
	params, err := parseParams(text, fs.Args()[1:], time.Now())
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	query, err := chstore.BindQuery(text, params)
	if err != nil {
		return err
	}
	conn, err := chstore.Connect(cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()

	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns(), "\t"))
	types := rows.ColumnTypes()
	values := make([]any, len(types))
	for rows.Next() {
		for i, ct := range types {
			values[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(values...); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		cells := make([]string, len(values))
		for i, v := range values {
			cells[i] = cell(reflect.ValueOf(v).Elem(), types[i].DatabaseTypeName())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return tw.Flush()
}

// listQueries prints every query's name and the first line of its header
// comment, which says what it answers.
func listQueries(w io.Writer) error {
	names, err := chstore.QueryNames()
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "queries (reftrailctl query NAME [name=value ...]):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range names {
		text, err := chstore.Query(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", name, strings.Join(declaredNames(text), " "), summary(name, text))
	}
	return tw.Flush()
}

// summary is the first sentence of a query's header comment, which says what
// it answers.
func summary(name, text string) string {
	var words []string
	for _, line := range strings.Split(text, "\n") {
		line, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok || strings.TrimSpace(line) == "" {
			break
		}
		words = append(words, strings.Fields(line)...)
	}
	s := strings.TrimPrefix(strings.Join(words, " "), name+": ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

// cell renders one scanned value of a column of type dbType: NULL for a null,
// dates as dates, times in UTC without the zone, anything else as fmt prints
// it.
func cell(v reflect.Value, dbType string) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		if strings.TrimSuffix(strings.TrimPrefix(dbType, "Nullable("), ")") == "Date" {
			return t.UTC().Format(time.DateOnly)
		}
		return t.UTC().Format(time.DateTime)
	}
	return fmt.Sprint(v.Interface())
}

// placeholder matches a query parameter, {name:Type}.
var placeholder = regexp.MustCompile(`\{(\w+):(\w+)\}`)

// declaredNames lists a query's parameters: the period's ends first, then in
// their order of use.
func declaredNames(query string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(query, -1) {
		if !slices.Contains(names, m[1]) {
			names = append(names, m[1])
		}
	}
	rank := func(n string) int {
		switch {
		case strings.HasPrefix(n, "from_"):
			return 0
		case strings.HasPrefix(n, "to_"):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}

// aliases are the friendlier names of parameters; a short name maps to the
// first of its candidates the query declares.
var aliases = map[string][]string{
	"from":        {"from_ms", "from_day"},
	"to":          {"to_ms", "to_day"},
	"now":         {"now_ms"},
	"account":     {"account_id"},
	"participant": {"participant_id"},
}

// parseParams turns name=value arguments into the Go values BindQuery wants,
// by the name and type each parameter is declared with in query: *_ms take any
// time parseTime reads, *_day a date or a time (its UTC day), platform any
// case. to_* and now_ms default to now; a from after its to is an error.
func parseParams(query string, args []string, now time.Time) (map[string]any, error) {
	declared := map[string]string{}
	for _, m := range placeholder.FindAllStringSubmatch(query, -1) {
		declared[m[1]] = m[2]
	}
	raw := map[string]string{}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("parameter %q: want name=value", arg)
		}
		if _, ok := declared[name]; !ok {
			for _, candidate := range aliases[name] {
				if _, ok := declared[candidate]; ok {
					name = candidate
					break
				}
			}
		}
		if _, ok := declared[name]; !ok {
			return nil, fmt.Errorf("parameter %s: the query takes %s", name, strings.Join(declaredNames(query), ", "))
		}
		if _, dup := raw[name]; dup {
			return nil, fmt.Errorf("parameter %s given twice", name)
		}
		raw[name] = value
	}
	for _, name := range []string{"to_ms", "to_day", "now_ms"} {
		if _, ok := declared[name]; ok && raw[name] == "" {
			raw[name] = strconv.FormatInt(now.UnixMilli(), 10)
		}
	}
	// funnel_by reads settled outcomes below settled_to_ms, which only
	// Store.Funnel knows to be settled: here every referral is judged from
	// events.
	if _, ok := declared["settled_to_ms"]; ok && raw["settled_to_ms"] == "" {
		raw["settled_to_ms"] = "0"
	}
	params := map[string]any{}
	for name, value := range raw {
		v, err := paramValue(name, declared[name], value, now)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		params[name] = v
	}
	if err := checkOrder(params, "from_ms", "to_ms"); err != nil {
		return nil, err
	}
	if err := checkOrder(params, "from_day", "to_day"); err != nil {
		return nil, err
	}
	return params, nil
}

func paramValue(name, typ, value string, now time.Time) (any, error) {
	endOfDay := strings.HasPrefix(name, "to_")
	switch {
	case strings.HasSuffix(name, "_ms"):
		t, err := parseTime(value, now, endOfDay)
		if err != nil {
			return nil, err
		}
		return t.UnixMilli(), nil
	case strings.HasSuffix(name, "_day"):
		// A day is inclusive on both ends: a date stays as it is.
		t, err := parseTime(value, now, false)
		if err != nil {
			return nil, err
		}
		return t.Format(time.DateOnly), nil
	case name == "platform":
		p, err := parsePlatform(value)
		return string(p), err
	case typ == "String":
		return value, nil
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s wants an integer", typ)
	}
	return n, nil
}

// checkOrder refuses from > to (and from == to for the half-open *_ms
// ranges), which would print an empty table as if nothing had happened.
func checkOrder(params map[string]any, from, to string) error {
	f, okF := params[from]
	t, okT := params[to]
	if !okF || !okT {
		return nil
	}
	switch f := f.(type) {
	case int64:
		if f >= t.(int64) {
			return fmt.Errorf("%s %s is not before %s %s", from, time.UnixMilli(f).UTC().Format(time.RFC3339), to, time.UnixMilli(t.(int64)).UTC().Format(time.RFC3339))
		}
	case string:
		if f > t.(string) {
			return fmt.Errorf("%s %s is after %s %s", from, f, to, t)
		}
	}
	return nil
}
