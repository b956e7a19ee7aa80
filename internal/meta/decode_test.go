package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/event"
)

var update = flag.Bool("update", false, "update golden files in testdata/golden")

// testSource is the lineage every golden test decodes with.
var testSource = Source{ReceivedTime: 1717000999000, Partition: 3, Offset: 42}

// golden is what a golden file holds: the error of Decode, or its Result.
type golden struct {
	Error  *DecodeError `json:"error,omitempty"`
	Result *Result      `json:"result,omitempty"`
}

func payloadFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "payloads", "*.json"))
	if err != nil {
		t.Fatalf("listing payloads: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("no payloads in testdata/payloads")
	}
	return files
}

func TestDecodeGolden(t *testing.T) {
	for _, file := range payloadFiles(t) {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("reading payload: %v", err)
			}
			res, err := Decode(body, testSource)
			var g golden
			if err != nil {
				if !errors.As(err, &g.Error) {
					t.Fatalf("Decode error is %T, want *DecodeError: %v", err, err)
				}
			} else {
				g.Result = &res
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // keep Meta's "<IG_ID>" placeholders readable
			enc.SetIndent("", "  ")
			if err := enc.Encode(g); err != nil {
				t.Fatalf("marshalling result: %v", err)
			}
			got := buf.Bytes()

			goldenFile := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(goldenFile), 0o755); err != nil {
					t.Fatalf("creating golden dir: %v", err)
				}
				if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
					t.Fatalf("writing golden file: %v", err)
				}
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Decode(%s) mismatch (-want +got):\n%s", name, diff)
			}
			checkInvariants(t, body, res, err)
		})
	}
}

// checkInvariants holds for every input: what FuzzDecode asserts, and that
// nothing from the never-carry list leaks into a Result.
func checkInvariants(t testing.TB, body []byte, res Result, err error) {
	t.Helper()
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("Decode error is %T, want *DecodeError: %v", err, err)
		}
		if de.Reason == "" {
			t.Errorf("DecodeError has an empty Reason: %v", err)
		}
		return
	}
	for i, ev := range res.Events {
		if ev.EventID == "" || ev.AccountID == "" || ev.ParticipantID == "" || ev.EventTime <= 0 {
			t.Errorf("event %d = {EventID: %q, AccountID: %q, ParticipantID: %q, EventTime: %d}, want all set", i, ev.EventID, ev.AccountID, ev.ParticipantID, ev.EventTime)
		}
		if ev.ReceivedTime != testSource.ReceivedTime || ev.RawPartition != testSource.Partition || ev.RawOffset != testSource.Offset {
			t.Errorf("event %d lineage = (%d, %d, %d), want %+v", i, ev.ReceivedTime, ev.RawPartition, ev.RawOffset, testSource)
		}
	}
	for i, b := range res.Bad {
		if b.Reason == "" || b.Path == "" {
			t.Errorf("Bad[%d] = %+v, want a Reason and a Path", i, b)
		}
	}
	out, mErr := json.Marshal(res)
	if mErr != nil {
		t.Fatalf("marshalling result: %v", mErr)
	}
	for _, secret := range []string{"SECRET-TOKEN-NEVER-CARRIED", "NOTIFICATION-MESSAGES-TOKEN", "random_text", "OPTIN_PAYLOAD", "QR_YES", "QR_PAYLOAD", "example.invalid/image", "placeholder_user"} {
		if bytes.Contains(body, []byte(secret)) && bytes.Contains(out, []byte(secret)) {
			t.Errorf("Result carries %q, which must never leave the payload", secret)
		}
	}
}

// TestDecodeRedelivery decodes the same payload twice, as Meta redelivers it,
// from different raw records: the events must be the same interactions with
// the same ids, and differ only in lineage and receive time.
func TestDecodeRedelivery(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "payloads", "redelivery.json"))
	if err != nil {
		t.Fatalf("reading payload: %v", err)
	}
	first, err := Decode(body, Source{ReceivedTime: 1717000999000, Partition: 1, Offset: 10})
	if err != nil {
		t.Fatalf("Decode (first delivery): %v", err)
	}
	again, err := Decode(bytes.Clone(body), Source{ReceivedTime: 1717003600000, Partition: 5, Offset: 77})
	if err != nil {
		t.Fatalf("Decode (redelivery): %v", err)
	}
	if got, want := len(again.Events), len(first.Events); got != want || got != 3 {
		t.Fatalf("got %d events on redelivery, %d first, want 3 each", got, want)
	}
	for i := range first.Events {
		f, a := first.Events[i], again.Events[i]
		if a.EventID != f.EventID {
			t.Errorf("event %d: got id %q on redelivery, want %q", i, a.EventID, f.EventID)
		}
		a.ReceivedTime, a.RawPartition, a.RawOffset = f.ReceivedTime, f.RawPartition, f.RawOffset
		if diff := cmp.Diff(f, a); diff != "" {
			t.Errorf("event %d differs beyond lineage (-first +again):\n%s", i, diff)
		}
	}
	seen := map[string]bool{}
	for _, ev := range first.Events {
		if seen[ev.EventID] {
			t.Errorf("id %q is shared by two events of one payload", ev.EventID)
		}
		seen[ev.EventID] = true
	}
}

// TestDecodeLayeredAgrees checks that the fallback path gives what the fast
// path gives, on every fixture (FuzzDecode checks it on everything else).
func TestDecodeLayeredAgrees(t *testing.T) {
	for _, file := range payloadFiles(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("reading payload: %v", err)
			}
			compareLayered(t, body)
		})
	}
}

func compareLayered(t testing.TB, body []byte) {
	t.Helper()
	got, gotErr := Decode(body, testSource)
	want, wantErr := decodeLayered(body, testSource)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode and decodeLayered disagree (-layered +Decode):\n%s", diff)
	}
	if diff := cmp.Diff(wantErr, gotErr, cmp.Comparer(func(a, b error) bool {
		return (a == nil) == (b == nil) && (a == nil || a.Error() == b.Error())
	})); diff != "" {
		t.Errorf("Decode and decodeLayered errors disagree (-layered +Decode):\n%s", diff)
	}
}

func TestDecodeErrorReasons(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Reason
	}{
		{name: "empty body", body: ``, want: ReasonInvalidJSON},
		{name: "truncated", body: `{"object":"page","entry":[`, want: ReasonInvalidJSON},
		{name: "trailing garbage", body: `{"object":"page","entry":[]} x`, want: ReasonInvalidJSON},
		{name: "null", body: `null`, want: ReasonNotMetaEnvelope},
		{name: "string", body: `"page"`, want: ReasonNotMetaEnvelope},
		{name: "array", body: `[{"object":"page","entry":[]}]`, want: ReasonNotMetaEnvelope},
		{name: "no object", body: `{"entry":[]}`, want: ReasonNotMetaEnvelope},
		{name: "object not a string", body: `{"object":["page"],"entry":[]}`, want: ReasonNotMetaEnvelope},
		{name: "no entry", body: `{"object":"page"}`, want: ReasonNotMetaEnvelope},
		{name: "entry null", body: `{"object":"page","entry":null}`, want: ReasonNotMetaEnvelope},
		{name: "entry object", body: `{"object":"page","entry":{}}`, want: ReasonNotMetaEnvelope},
		{name: "whatsapp", body: `{"object":"whatsapp_business_account","entry":[]}`, want: ReasonUnknownObject},
		{name: "empty object", body: `{"object":"","entry":[]}`, want: ReasonUnknownObject},
		{name: "upper case", body: `{"object":"PAGE","entry":[]}`, want: ReasonUnknownObject},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body), testSource)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%q) error = %v, want a *DecodeError", tt.body, err)
			}
			if de.Reason != tt.want {
				t.Errorf("Decode(%q) reason = %q, want %q", tt.body, de.Reason, tt.want)
			}
			if de.Detail == "" {
				t.Errorf("Decode(%q) detail is empty", tt.body)
			}
		})
	}
}

func TestThreadRule(t *testing.T) {
	const head = `{"object":"page","entry":[{"id":"P","messaging":[{"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1717000000000,`
	const tail = `}]}]}`
	tests := []struct {
		name       string
		item       string
		wantKind   event.Kind
		wantThread event.Thread
	}{
		{name: "standalone referral", item: `"referral":{"ref":"r"}`, wantKind: event.KindReferral, wantThread: event.ThreadExisting},
		{name: "message with referral", item: `"message":{"mid":"m1","referral":{"ref":"r"}}`, wantKind: event.KindMessage, wantThread: event.ThreadNew},
		{name: "message without referral", item: `"message":{"mid":"m1"}`, wantKind: event.KindMessage, wantThread: event.ThreadUnknown},
		{name: "postback with referral", item: `"postback":{"mid":"m1","referral":{"ref":"r"}}`, wantKind: event.KindPostback, wantThread: event.ThreadNew},
		{name: "postback without referral", item: `"postback":{"mid":"m1","payload":"p"}`, wantKind: event.KindPostback, wantThread: event.ThreadUnknown},
		{name: "optin with ref", item: `"optin":{"type":"notification_messages","ref":"r"}`, wantKind: event.KindOptin, wantThread: event.ThreadUnknown},
		{name: "optin with empty ref", item: `"optin":{"type":"notification_messages","ref":""}`, wantKind: event.KindOptin, wantThread: event.ThreadUnknown},
		{name: "optin without ref", item: `"optin":{"type":"notification_messages"}`, wantKind: event.KindOptin, wantThread: event.ThreadUnknown},
		{name: "echo", item: `"message":{"mid":"m1","is_echo":true,"referral":{"ref":"r"}}`, wantKind: event.KindEcho, wantThread: event.ThreadUnknown},
		{name: "message beats standalone referral", item: `"message":{"mid":"m1"},"referral":{"ref":"r"}`, wantKind: event.KindMessage, wantThread: event.ThreadUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Decode([]byte(head+tt.item+tail), testSource)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(res.Events) != 1 {
				t.Fatalf("got %d events, want 1 (bad: %+v)", len(res.Events), res.Bad)
			}
			ev := res.Events[0]
			if ev.Kind != tt.wantKind || ev.Thread != tt.wantThread {
				t.Errorf("got kind %s thread %s, want kind %s thread %s", ev.Kind, ev.Thread, tt.wantKind, tt.wantThread)
			}
			if ev.Kind != event.KindOptin && (ev.Referral != nil) != (tt.wantThread != event.ThreadUnknown) {
				t.Errorf("got referral %+v with thread %s: a referral outside an opt-in must come with NEW or EXISTING", ev.Referral, ev.Thread)
			}
		})
	}
}

func TestValidRef(t *testing.T) {
	tests := []struct {
		name string
		ref  string
		want bool
	}{
		{name: "empty", ref: "", want: true},
		{name: "all allowed characters", ref: "azAZ09-_=", want: true},
		{name: "at the limit", ref: strings.Repeat("x", 2083), want: true},
		{name: "over the limit", ref: strings.Repeat("x", 2084), want: false},
		{name: "space", ref: "a b", want: false},
		{name: "percent escape", ref: "a%20b", want: false},
		{name: "non-ASCII", ref: "café", want: false},
		{name: "dot", ref: "a.b", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validRef(tt.ref); got != tt.want {
				t.Errorf("validRef(%q) = %v, want %v", tt.ref, got, tt.want)
			}
		})
	}
}

// TestDecodeRejectsImplausibleTimestamps checks the accepted range of event
// times: from 2010 to a day after the payload was received. Before, anything
// from 1973 to the year 5138 was accepted, and ClickHouse's DateTime wraps
// after 2106.
func TestDecodeRejectsImplausibleTimestamps(t *testing.T) {
	const received = 1717000999000 // 2024-05-29T16:43:19Z
	tests := []struct {
		name      string
		timestamp string
		received  int64
		wantBad   bool
	}{
		{name: "just received", timestamp: "1717000990000", received: received},
		{name: "2010-01-01", timestamp: "1262304000000", received: received},
		{name: "2009, in seconds", timestamp: "1262303999", received: received, wantBad: true},
		{name: "1973", timestamp: "100000000000", received: received, wantBad: true},
		{name: "a day ahead", timestamp: "1717087399000", received: received},
		{name: "a day and a second ahead", timestamp: "1717087400000", received: received, wantBad: true},
		{name: "year 5000", timestamp: "95617584000000", received: received, wantBad: true},
		{name: "after 2106, receive time unknown", timestamp: "4294967296000", wantBad: true},
		{name: "2100, receive time unknown", timestamp: "4102444800000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"object":"instagram","entry":[{"id":"17841400000000001","messaging":[{"sender":{"id":"1"},"recipient":{"id":"17841400000000001"},"timestamp":` +
				tt.timestamp + `,"referral":{"ref":"r","source":"SHORTLINKS","type":"OPEN_THREAD"}}]}]}`
			res, err := Decode([]byte(body), Source{ReceivedTime: tt.received})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantBad {
				if len(res.Bad) != 1 || res.Bad[0].Reason != ReasonInvalidTimestamp || len(res.Events) != 0 {
					t.Errorf("Decode = %d events, bad %+v; want the item dead-lettered as invalid_timestamp", len(res.Events), res.Bad)
				}
				return
			}
			if len(res.Events) != 1 || len(res.Bad) != 0 {
				t.Errorf("Decode = %d events, bad %+v; want one event", len(res.Events), res.Bad)
			}
		})
	}
}

// TestOptinFields checks that the registered topic and the request's title
// stay apart, and that the status is normalised so that a stopped person is
// one value to queries.
func TestOptinFields(t *testing.T) {
	const head = `{"object":"page","entry":[{"id":"P","messaging":[{"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1717000000000,"optin":{"type":"notification_messages"`
	const tail = `}}]}]}`
	tests := []struct {
		name   string
		fields string
		want   event.Optin
	}{
		{
			name:   "topic and title",
			fields: `,"title":"Weekly deals?","notification_messages_topic":"deals"`,
			want:   event.Optin{Type: "notification_messages", Topic: strp("deals"), Title: strp("Weekly deals?")},
		},
		{name: "title only", fields: `,"title":"Weekly deals?"`, want: event.Optin{Type: "notification_messages", Title: strp("Weekly deals?")}},
		{name: "topic only", fields: `,"notification_messages_topic":"deals"`, want: event.Optin{Type: "notification_messages", Topic: strp("deals")}},
		{name: "stop", fields: `,"notification_messages_status":"STOP NOTIFICATIONS"`, want: event.Optin{Type: "notification_messages", Status: strp(event.OptinStop)}},
		{name: "stop underscore", fields: `,"notification_messages_status":"STOP_NOTIFICATIONS"`, want: event.Optin{Type: "notification_messages", Status: strp(event.OptinStop)}},
		{name: "resume lower case", fields: `,"notification_messages_status":"resume notifications"`, want: event.Optin{Type: "notification_messages", Status: strp(event.OptinResume)}},
		{name: "unknown status kept", fields: `,"notification_messages_status":"PAUSED"`, want: event.Optin{Type: "notification_messages", Status: strp("PAUSED")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Decode([]byte(head+tt.fields+tail), testSource)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(res.Events) != 1 || res.Events[0].Optin == nil {
				t.Fatalf("got %+v, want one opt-in event", res)
			}
			if diff := cmp.Diff(tt.want, *res.Events[0].Optin); diff != "" {
				t.Errorf("optin (-want +got):\n%s", diff)
			}
		})
	}
}
