package eventcodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CanonicalForm returns the Parsing Canonical Form of an Avro schema, as the
// Avro specification defines it: only the attributes type, name, fields,
// symbols, items, values and size survive, in that order; names become
// fullnames; primitive types become bare strings; no whitespace. Everything
// else goes: doc, aliases, defaults, order, namespace and logicalType, so
// {"type":"long","logicalType":"timestamp-millis"} becomes "long".
//
// Hazard: this is not what hamba/avro calls canonical (v2.31 keeps logicalType),
// and the single-object fingerprint must be taken over this form, or Java
// subscribers (SchemaNormalization.parsingFingerprint64) cannot resolve it.
func CanonicalForm(schema []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber() // keeps fixed sizes exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parsing schema JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parsing schema JSON: trailing data after the schema")
	}
	c := canonicalizer{defined: make(map[string]bool)}
	out, err := c.appendSchema(nil, v, "")
	if err != nil {
		return nil, fmt.Errorf("normalising schema: %w", err)
	}
	return out, nil
}

// emptyFingerprint is the CRC-64-AVRO initial value (EMPTY in the specification).
const emptyFingerprint uint64 = 0xc15d213aa4d7a795

var fingerprintTable = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (emptyFingerprint & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// Fingerprint64 returns the CRC-64-AVRO (Rabin) fingerprint of b, as the Avro
// specification defines it. For a schema fingerprint, pass the schema's
// CanonicalForm; single-object encoding writes the result little-endian.
func Fingerprint64(b []byte) uint64 {
	fp := emptyFingerprint
	for _, c := range b {
		fp = (fp >> 8) ^ fingerprintTable[byte(fp)^c]
	}
	return fp
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// canonicalizer carries the named types seen so far: the specification writes a
// named type in full once, then refers to it by fullname.
type canonicalizer struct {
	defined map[string]bool
}

// appendSchema appends the canonical form of schema v, whose enclosing
// namespace is ns.
func (c *canonicalizer) appendSchema(b []byte, v any, ns string) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return c.appendTypeName(b, v, ns)
	case []any:
		b = append(b, '[')
		for i, branch := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = c.appendSchema(b, branch, ns); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return c.appendObject(b, v, ns)
	}
	return nil, fmt.Errorf("a schema must be a string, an object or an array, not %v", v)
}

// appendTypeName appends a primitive type or a reference to a named type
// defined earlier.
func (c *canonicalizer) appendTypeName(b []byte, name, ns string) ([]byte, error) {
	if primitives[name] {
		return appendName(b, name), nil
	}
	full := fullName(name, ns)
	if !c.defined[full] {
		// A short name in a namespace may still refer to a type of the null
		// namespace.
		if strings.Contains(name, ".") || !c.defined[name] {
			return nil, fmt.Errorf("undefined type %q", full)
		}
		full = name
	}
	return appendName(b, full), nil
}

func (c *canonicalizer) appendObject(b []byte, m map[string]any, ns string) ([]byte, error) {
	typ, ok := m["type"].(string)
	if !ok {
		return nil, fmt.Errorf("schema object without a string type: %v", m["type"])
	}
	switch typ {
	case "record", "error", "enum", "fixed":
		return c.appendNamed(b, typ, m, ns)
	case "array":
		b = append(b, `{"type":"array","items":`...)
		b, err := c.appendSchema(b, m["items"], ns)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		return append(b, '}'), nil
	case "map":
		b = append(b, `{"type":"map","values":`...)
		b, err := c.appendSchema(b, m["values"], ns)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		return append(b, '}'), nil
	}
	if !primitives[typ] {
		// Apache Avro Java and python3-avro refuse a named type referenced
		// as {"type":"Name"}; so do we.
		return nil, fmt.Errorf("undefined type %q in a schema object", typ)
	}
	// A primitive, with attributes such as logicalType that the canonical form
	// drops.
	return appendName(b, typ), nil
}

func (c *canonicalizer) appendNamed(b []byte, typ string, m map[string]any, ns string) ([]byte, error) {
	name, ok := m["name"].(string)
	if !ok {
		return nil, fmt.Errorf("%s without a string name", typ)
	}
	if space, ok := m["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = space
	}
	full := fullName(name, ns)
	if err := checkFullName(full); err != nil {
		return nil, err
	}
	if c.defined[full] {
		return nil, fmt.Errorf("type %q defined twice", full)
	}
	c.defined[full] = true
	// Types nested in this one inherit its namespace.
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		ns = full[:i]
	} else {
		ns = ""
	}

	b = append(b, `{"name":`...)
	b = appendName(b, full)
	switch typ {
	case "record", "error":
		// The canonical form does not distinguish errors from records, as
		// Java's SchemaNormalization does not.
		return c.appendFields(append(b, `,"type":"record","fields":[`...), m, full, ns)
	case "enum":
		symbols, ok := m["symbols"].([]any)
		if !ok {
			return nil, fmt.Errorf("enum %q without symbols", full)
		}
		b = append(b, `,"type":"enum","symbols":[`...)
		for i, s := range symbols {
			sym, ok := s.(string)
			if !ok || !validName(sym) {
				return nil, fmt.Errorf("enum %q: invalid symbol %v", full, s)
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = appendName(b, sym)
		}
		return append(b, "]}"...), nil
	default: // fixed
		size, err := fixedSize(m["size"])
		if err != nil {
			return nil, fmt.Errorf("fixed %q: %w", full, err)
		}
		b = append(b, `,"type":"fixed","size":`...)
		b = strconv.AppendInt(b, size, 10)
		return append(b, '}'), nil
	}
}

func (c *canonicalizer) appendFields(b []byte, m map[string]any, record, ns string) ([]byte, error) {
	fields, ok := m["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("record %q without fields", record)
	}
	for i, f := range fields {
		field, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %q: field %d is not an object", record, i)
		}
		name, ok := field["name"].(string)
		if !ok || !validName(name) {
			return nil, fmt.Errorf("record %q: field %d: invalid name %v", record, i, field["name"])
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendName(b, name)
		b = append(b, `,"type":`...)
		var err error
		if b, err = c.appendSchema(b, field["type"], ns); err != nil {
			return nil, fmt.Errorf("record %q: field %q: %w", record, name, err)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// fixedSize reads a fixed size; the canonical form writes it without quotes
// or leading zeros.
func fixedSize(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("size %v is not a number", v)
	}
	size, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil || size < 0 {
		return 0, fmt.Errorf("invalid size %v", n)
	}
	return size, nil
}

func fullName(name, ns string) string {
	if ns == "" || strings.Contains(name, ".") {
		return name
	}
	return ns + "." + name
}

func checkFullName(full string) error {
	for part := range strings.SplitSeq(full, ".") {
		if !validName(part) {
			return fmt.Errorf("invalid name %q", full)
		}
	}
	return nil
}

// validName reports whether s matches [A-Za-z_][A-Za-z0-9_]*, the
// specification's rule for names and symbols. Such names never need JSON
// escaping, which keeps appendName trivial.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// appendName appends a name, symbol or fullname already checked by validName
// (primitive names pass it too) as a JSON string.
func appendName(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
