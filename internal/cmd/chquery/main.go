// Command chquery runs one of reftrail's dashboard queries
// (schemas/clickhouse/queries/NAME.sql) against ClickHouse and prints the
// result as an aligned table. The queries use {name:Type} parameters, which
// ClickHouse 18.16 does not know; chquery binds them client-side, so the same
// command works on every ClickHouse reftrail supports.
//
//	chquery funnel from_ms=1762128000000 to_ms=1763903353845
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chquery:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("chquery", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: chquery [flags] QUERY [name=value ...]\n\nQUERY is a file name of schemas/clickhouse/queries without .sql; each query's\nheader comment says what it answers and its parameters.\n\nflags:")
		flags.PrintDefaults()
	}
	addr := flags.String("addr", valueOr(getenv("CLICKHOUSE_ADDR"), "127.0.0.1:9000"), "ClickHouse native protocol `host:port` (default from CLICKHOUSE_ADDR)")
	database := flags.String("database", valueOr(getenv("CLICKHOUSE_DATABASE"), "reftrail"), "`database` holding reftrail's tables (default from CLICKHOUSE_DATABASE)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() == 0 {
		flags.Usage()
		return errors.New("no query named")
	}
	text, err := chstore.Query(flags.Arg(0))
	if err != nil {
		return err
	}
	params, err := parseParams(text, flags.Args()[1:])
	if err != nil {
		return err
	}
	query, err := chstore.BindQuery(text, params)
	if err != nil {
		return err
	}
	conn, err := chstore.Connect(chstore.Config{Addr: *addr, Database: *database, Username: getenv("CLICKHOUSE_USERNAME"), Password: getenv("CLICKHOUSE_PASSWORD"), ReadTimeout: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return fmt.Errorf("running %s: %w", flags.Arg(0), err)
	}
	defer rows.Close()

	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns(), "\t"))
	types := rows.ColumnTypes()
	values := make([]any, len(types))
	for rows.Next() {
		for i, ct := range types {
			values[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(values...); err != nil {
			return fmt.Errorf("reading %s: %w", flags.Arg(0), err)
		}
		cells := make([]string, len(values))
		for i, v := range values {
			cells[i] = cell(reflect.ValueOf(v).Elem())
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", flags.Arg(0), err)
	}
	return tw.Flush()
}

// cell renders one scanned value: NULL for a null, times in UTC without the
// zone, anything else as fmt prints it.
func cell(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "NULL"
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UTC().Format(time.DateTime)
	}
	return fmt.Sprint(v.Interface())
}

// placeholder matches a query parameter, {name:Type}.
var placeholder = regexp.MustCompile(`\{(\w+):(\w+)\}`)

// parseParams turns name=value arguments into the Go values BindQuery wants,
// by the type each parameter is declared with in query.
func parseParams(query string, args []string) (map[string]any, error) {
	declared := map[string]string{}
	for _, m := range placeholder.FindAllStringSubmatch(query, -1) {
		declared[m[1]] = m[2]
	}
	params := map[string]any{}
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("parameter %q: want name=value", arg)
		}
		typ, ok := declared[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("parameter %s: the query has no {%s:...}", name, name)
		case typ == "String":
			params[name] = value
		default:
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %s wants an integer", name, typ)
			}
			params[name] = n
		}
	}
	return params, nil
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
