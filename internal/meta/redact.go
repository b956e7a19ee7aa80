package meta

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Redacted replaces every string Redact does not keep.
const Redacted = "[redacted]"

// keptStrings are the keys whose string values Redact keeps: ids, times,
// kinds and the referral's ref and source, what an operator needs to tell why
// a payload was dead-lettered and whom it concerns. Every other string (message
// text, attachment and quick-reply payloads, titles, URLs, and anything Meta
// adds later) is free text or a credential until shown otherwise.
var keptStrings = map[string]bool{
	"object": true, "id": true, "time": true, "timestamp": true, "mid": true,
	"user_ref": true, "ref": true, "source": true, "type": true, "field": true,
	"ad_id": true, "post_id": true, "product_id": true, "flow_id": true, "app_id": true,
	"watermark":                       true,
	"notification_messages_frequency": true,
	"notification_messages_status":    true,
}

// Redact returns a copy of a webhook body safe to store where dashboards read:
// the JSON structure, keys, numbers, booleans and the strings of keptStrings
// stay; every other string becomes Redacted, and any value under a key
// containing "token" (notification_messages_token, ...) too. A body that is
// not JSON keeps only its length. Key order is not kept.
func Redact(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return []byte(Redacted + " " + strconv.Itoa(len(body)) + " bytes, not JSON")
	}
	out, err := json.Marshal(redactValue("", v))
	if err != nil {
		// Unreachable: what json decoded, it encodes.
		return []byte(Redacted)
	}
	return out
}

func redactValue(key string, v any) any {
	if strings.Contains(strings.ToLower(key), "token") {
		return Redacted
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = redactValue(k, x)
		}
	case []any:
		for i, x := range v {
			v[i] = redactValue(key, x)
		}
	case string:
		if !keptStrings[key] {
			return Redacted
		}
	}
	return v
}
