package meta

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedact(t *testing.T) {
	body := `{"object":"page","entry":[{"id":"106","time":1717000000000,"messaging":[
		{"sender":{"id":"2400"},"recipient":{"id":"106"},"timestamp":1717000000000,
		 "message":{"mid":"m_1","text":"call me on +33 6 12 34 56 78","quick_reply":{"payload":"MY_ADDRESS_12_RUE"},
		  "attachments":[{"type":"image","payload":{"url":"https://cdn.example/p.jpg?sig=1"}}],
		  "referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"}}},
		{"sender":{"id":"2400"},"recipient":{"id":"106"},"timestamp":1717000000001,
		 "optin":{"type":"notification_messages","title":"Weekly deals for Anna","notification_messages_token":"TOKEN123",
		  "notification_messages_frequency":"WEEKLY","notification_messages_status":"RESUME","token_expiry_timestamp":1718000000000,
		  "payload":"free text","user_token":{"v":"nested"}}}]}]}`
	want := `{"entry":[{"id":"106","messaging":[
		{"message":{"attachments":[{"payload":{"url":"[redacted]"},"type":"image"}],"mid":"m_1","quick_reply":{"payload":"[redacted]"},
		  "referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"},"text":"[redacted]"},
		 "recipient":{"id":"106"},"sender":{"id":"2400"},"timestamp":1717000000000},
		{"optin":{"notification_messages_frequency":"WEEKLY","notification_messages_status":"RESUME","notification_messages_token":"[redacted]",
		  "payload":"[redacted]","title":"[redacted]","token_expiry_timestamp":"[redacted]","type":"notification_messages","user_token":"[redacted]"},
		 "recipient":{"id":"106"},"sender":{"id":"2400"},"timestamp":1717000000001}],"time":1717000000000}],"object":"page"}`
	var got, wantV any
	if err := json.Unmarshal(Redact([]byte(body)), &got); err != nil {
		t.Fatalf("Redact output is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &wantV); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantV, got); diff != "" {
		t.Errorf("Redact (-want +got):\n%s", diff)
	}
	for _, notJSON := range []string{`{"object":"page","entry":[{"messaging":[{"message":{"text":"secret`, "hello secret"} {
		if got := string(Redact([]byte(notJSON))); strings.Contains(got, "secret") || !strings.Contains(got, "not JSON") {
			t.Errorf("Redact(%q) = %q, want only its length", notJSON, got)
		}
	}
}

// TestRedactCorpus checks that no text, token or attachment of the payload
// corpus survives Redact, while every event the payload yields still decodes
// from the redacted body with the same ids.
func TestRedactCorpus(t *testing.T) {
	for _, file := range payloadFiles(t) {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if json.Unmarshal(body, &v) != nil {
			continue
		}
		red := Redact(body)
		var walk func(key string, v any)
		walk = func(key string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					walk(k, x)
				}
			case []any:
				for _, x := range v {
					walk(key, x)
				}
			case string:
				if (key == "text" || key == "url" || key == "title" || strings.Contains(key, "token")) && v != Redacted {
					t.Errorf("%s: %s = %q survives Redact", filepath.Base(file), key, v)
				}
			}
		}
		var rv any
		if err := json.Unmarshal(red, &rv); err != nil {
			t.Fatalf("%s: redacted body is not JSON: %v", filepath.Base(file), err)
		}
		walk("", rv)
		before, err1 := Decode(body, testSource)
		after, err2 := Decode(red, testSource)
		if (err1 == nil) != (err2 == nil) || len(before.Events) != len(after.Events) {
			t.Errorf("%s: %d events before Redact, %d after", filepath.Base(file), len(before.Events), len(after.Events))
			continue
		}
		for i := range before.Events {
			if before.Events[i].EventID != after.Events[i].EventID && before.Events[i].MessageID != nil {
				t.Errorf("%s: event %d id %s before Redact, %s after", filepath.Base(file), i, before.Events[i].EventID, after.Events[i].EventID)
			}
		}
	}
}
