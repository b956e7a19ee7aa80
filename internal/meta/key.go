package meta

import (
	"bytes"
	"encoding/json"
)

// AccountKey returns the business account id of a webhook body, entry[0].id,
// which ingest uses as the raw record's key so one account's payloads stay in
// order. ok is false when the body has no such id (not JSON, no entries); the
// body is then produced unkeyed and enrich dead-letters it.
func AccountKey(body []byte) (key string, ok bool) {
	var envelope struct {
		Entry []struct {
			ID json.RawMessage `json:"id"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil || len(envelope.Entry) == 0 {
		return "", false
	}
	return idString(envelope.Entry[0].ID)
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
