package chstore

import (
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/reftrail/reftrail/schemas"
)

// Query returns the text of schemas/clickhouse/queries/<name>.sql. Queries name
// tables without a database: run them on a connection whose default database
// is reftrail's.
func Query(name string) (string, error) {
	b, err := fs.ReadFile(schemas.ClickHouse, "clickhouse/queries/"+name+".sql")
	if err != nil {
		return "", fmt.Errorf("reading query %s: %w", name, err)
	}
	return string(b), nil
}

var placeholderRE = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*):([A-Za-z0-9]+)\}`)

// BindQuery replaces the {name:Type} placeholders of query with literals of
// params, client-side.
//
// The placeholders use current ClickHouse's query-parameter syntax, so the
// files run unchanged there (clickhouse-client --param_name=value); ClickHouse
// 18.16 has no query parameters, hence this function. Types: String (a Go
// string), Int8 to Int64 and UInt8 to UInt64 (any Go integer in range). A
// String becomes a quoted, escaped literal; an integer becomes to<Type>(n), so
// arithmetic keeps the declared type as it would server-side. A placeholder
// without a param, a param without a placeholder, a placeholder used with two
// types, or a value of the wrong type is an error.
func BindQuery(query string, params map[string]any) (string, error) {
	types := map[string]string{}
	for _, m := range placeholderRE.FindAllStringSubmatch(query, -1) {
		name, typ := m[1], m[2]
		if other, ok := types[name]; ok && other != typ {
			return "", fmt.Errorf("binding query: parameter %s is used as %s and as %s", name, other, typ)
		}
		types[name] = typ
	}
	literals := map[string]string{}
	for name, typ := range types {
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("binding query: parameter %s (%s) is missing", name, typ)
		}
		lit, err := literal(typ, v)
		if err != nil {
			return "", fmt.Errorf("binding query: parameter %s: %w", name, err)
		}
		literals[name] = lit
	}
	var unused []string
	for name := range params {
		if _, ok := types[name]; !ok {
			unused = append(unused, name)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return "", fmt.Errorf("binding query: parameters %s are not in the query", strings.Join(unused, ", "))
	}
	return placeholderRE.ReplaceAllStringFunc(query, func(p string) string {
		return literals[placeholderRE.FindStringSubmatch(p)[1]]
	}), nil
}

// literal formats v as a ClickHouse literal of type typ.
func literal(typ string, v any) (string, error) {
	if typ == "String" {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string for String, got %T", v)
		}
		return quoteString(s), nil
	}
	it, ok := intTypes[typ]
	if !ok {
		return "", fmt.Errorf("unsupported type %s (want String, IntN or UIntN)", typ)
	}
	bits, signed := it.bits, it.signed
	var (
		text string
		err  error
	)
	switch n := v.(type) {
	case int:
		text, err = checkSigned(int64(n), bits, signed)
	case int32:
		text, err = checkSigned(int64(n), bits, signed)
	case int64:
		text, err = checkSigned(n, bits, signed)
	case uint32:
		text, err = checkUnsigned(uint64(n), bits, signed)
	case uint64:
		text, err = checkUnsigned(n, bits, signed)
	default:
		return "", fmt.Errorf("want an integer for %s, got %T", typ, v)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", typ, err)
	}
	return "to" + typ + "(" + text + ")", nil
}

// intTypes are the integer types BindQuery accepts, with their widths.
var intTypes = map[string]struct {
	bits   int
	signed bool
}{
	"Int8": {8, true}, "Int16": {16, true}, "Int32": {32, true}, "Int64": {64, true},
	"UInt8": {8, false}, "UInt16": {16, false}, "UInt32": {32, false}, "UInt64": {64, false},
}

func checkSigned(n int64, bits int, signed bool) (string, error) {
	if n < 0 {
		if !signed || (bits < 64 && n < -(1<<(bits-1))) {
			return "", fmt.Errorf("%d out of range", n)
		}
		return strconv.FormatInt(n, 10), nil
	}
	return checkUnsigned(uint64(n), bits, signed)
}

func checkUnsigned(n uint64, bits int, signed bool) (string, error) {
	limit := bits
	if signed {
		limit--
	}
	if limit < 64 && n >= 1<<limit {
		return "", fmt.Errorf("%d out of range", n)
	}
	return strconv.FormatUint(n, 10), nil
}

// QueryNames returns the names Query accepts, sorted.
func QueryNames() ([]string, error) {
	entries, err := fs.ReadDir(schemas.ClickHouse, "clickhouse/queries")
	if err != nil {
		return nil, fmt.Errorf("listing queries: %w", err)
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".sql"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}
