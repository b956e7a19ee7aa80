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
// It reads tokens only as far as the first entry's id and does not validate
// the rest of the body: it is on ingest's hot path, and enrich, which decodes
// everything, is where a malformed body is reported.
func AccountKey(body []byte) (key string, ok bool) {
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
