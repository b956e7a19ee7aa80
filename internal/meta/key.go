package meta

import (
	"bytes"
	"encoding/json"
)

// AccountKey returns the business account id of a webhook body, entry[0].id,
// which ingest uses as the raw record's key so one account's payloads stay in
// order. ok is false when the body has no such id (not JSON, no entries); the
// body is then produced unkeyed and enrich dead-letters it.
//
// It reads only as far as the first entry's id and does not validate the
// rest of the body: it is on ingest's hot path, and enrich, which decodes
// everything, is where a malformed body is reported.
//
// The usual body is read by a scanner that allocates nothing but the key;
// whatever it is not sure of (escapes, non-ASCII, anything malformed) is
// read again by encoding/json, whose answer stands.
func AccountKey(body []byte) (key string, ok bool) {
	if key, ok, sure := scanAccountKey(body); sure {
		return key, ok
	}
	return decodeAccountKey(body)
}

// decodeAccountKey is AccountKey with encoding/json's tokenizer.
func decodeAccountKey(body []byte) (key string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if !openDelim(dec, '{') {
		return "", false
	}
	for dec.More() {
		if name, ok := objectKey(dec); !ok || name != "entry" {
			if !ok || skipValue(dec) != nil {
				return "", false
			}
			continue
		}
		if !openDelim(dec, '[') || !dec.More() || !openDelim(dec, '{') {
			return "", false
		}
		for dec.More() {
			name, ok := objectKey(dec)
			if !ok {
				return "", false
			}
			if name != "id" {
				if skipValue(dec) != nil {
					return "", false
				}
				continue
			}
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return "", false
			}
			return idString(raw)
		}
		return "", false
	}
	return "", false
}

func openDelim(dec *json.Decoder, want json.Delim) bool {
	tok, err := dec.Token()
	return err == nil && tok == want
}

func objectKey(dec *json.Decoder) (string, bool) {
	tok, err := dec.Token()
	name, ok := tok.(string)
	return name, err == nil && ok
}

// skipValue consumes one value whole; decoding into a RawMessage scans it
// without building anything.
func skipValue(dec *json.Decoder) error {
	var skipped json.RawMessage
	return dec.Decode(&skipped)
}

// idString reads an id that Meta sends as a string, or in some payloads as a
// bare number.
func idString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "" {
			return "", false
		}
		return s, true
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil || n == "" {
		return "", false
	}
	return n.String(), true
}

// scanAccountKey finds entry[0].id the way decodeAccountKey does. sure is
// false when it cannot tell; every value it skips is checked with json.Valid,
// as the tokenizer would check it.
func scanAccountKey(b []byte) (key string, ok, sure bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false, false
	}
	i++
	for {
		name, next, good := scanKey(b, i)
		if !good {
			return "", false, false
		}
		if name != "entry" {
			if i, good = skipMember(b, next); !good {
				return "", false, false
			}
			continue
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != '[' {
			return "", false, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) || b[i] != '{' {
			return "", false, false
		}
		i++
		for {
			name, next, good := scanKey(b, i)
			if !good {
				return "", false, false
			}
			if name != "id" {
				if i, good = skipMember(b, next); !good {
					return "", false, false
				}
				continue
			}
			return scanID(b, skipSpace(b, next))
		}
	}
}

// scanKey reads `"name" :` from i, after optional space; next is just past
// the colon. Keys with escapes or non-ASCII bytes are not read.
func scanKey(b []byte, i int) (name string, next int, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return "", 0, false
	}
	end, ok := plainStringEnd(b, i)
	if !ok {
		return "", 0, false
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ':' {
		return "", 0, false
	}
	return string(b[i+1 : end-1]), j + 1, true
}

// skipMember skips the value starting at i and the comma after it; it
// refuses the end of the object, which the caller cannot continue from.
func skipMember(b []byte, i int) (next int, ok bool) {
	i = skipSpace(b, i)
	end, ok := valueEnd(b, i)
	if !ok || !json.Valid(b[i:end]) {
		return 0, false
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ',' {
		return 0, false
	}
	return j + 1, true
}

// scanID reads an id that is a plain string or a number.
func scanID(b []byte, i int) (key string, ok, sure bool) {
	if i >= len(b) {
		return "", false, false
	}
	if b[i] == '"' {
		end, plain := plainStringEnd(b, i)
		if !plain {
			return "", false, false
		}
		return string(b[i+1 : end-1]), end-i > 2, true
	}
	if b[i] != '-' && (b[i] < '0' || b[i] > '9') {
		return "", false, false
	}
	end, ok := valueEnd(b, i)
	if !ok || !json.Valid(b[i:end]) {
		return "", false, false
	}
	return string(b[i:end]), true, true
}

// valueEnd returns the end of the JSON value starting at i, following
// strings and brackets without checking anything else.
func valueEnd(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			end, ok := stringEnd(b, j)
			if !ok {
				return 0, false
			}
			if depth == 0 {
				return end, true
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j, j > i
			}
			if depth--; depth == 0 {
				return j + 1, true
			}
		case ',', ' ', '\t', '\n', '\r', ':':
			if depth == 0 {
				return j, j > i
			}
		}
	}
	return len(b), depth == 0
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// plainStringEnd is stringEnd for strings of printable ASCII without
// escapes, the only ones read without encoding/json.
func plainStringEnd(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, false
		}
	}
	return 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
