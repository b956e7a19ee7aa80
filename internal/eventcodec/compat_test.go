package eventcodec

import (
	"encoding/json"
	"io/fs"
	"slices"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/reftrail/reftrail/schemas"
)

// compatibility checks both directions between two versions of a schema:
// backward (newer reads what older wrote: consumers upgraded first, and old
// data in the topic) and forward (older reads what newer writes: subscribers
// that have not upgraded). Together that is the registry's FULL level, what
// docs/ARCHITECTURE.md's "add fields only with defaults" promises subscribers.
func compatibility(t *testing.T, newer, older []byte) (backward, forward error) {
	t.Helper()
	n, err := parseSchema(newer)
	if err != nil {
		t.Fatalf("parsing newer schema: %v", err)
	}
	o, err := parseSchema(older)
	if err != nil {
		t.Fatalf("parsing older schema: %v", err)
	}
	c := avro.NewSchemaCompatibility()
	return c.Compatible(n.avro, o.avro), c.Compatible(o.avro, n.avro)
}

// TestSchemaHistoryCompatible fails when schemas/avro/referral_event.avsc
// breaks a released version. To release a version, copy it to
// schemas/avro/history/referral_event.v<N>.avsc; never edit those files.
func TestSchemaHistoryCompatible(t *testing.T) {
	current, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := fs.Glob(schemas.Avro, historyGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no released version matches %s", historyGlob)
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			old, err := schemas.Avro.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			backward, forward := compatibility(t, current, old)
			if backward != nil {
				t.Errorf("%s cannot read data written with %s: %v", schemaPath, p, backward)
			}
			if forward != nil {
				t.Errorf("readers of %s cannot read data written with %s: %v", p, schemaPath, forward)
			}
		})
	}
}

// TestCompatibility tests the check above with edits of the current schema.
func TestCompatibility(t *testing.T) {
	current, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                      string
		newer                     []byte
		wantBackward, wantForward bool // want an error
	}{
		{name: "unchanged", newer: current},
		{
			name:  "field added with default",
			newer: withField(t, current, 15, map[string]any{"name": "campaign", "type": []any{"null", "string"}, "default": nil}),
		},
		{
			name:         "field added without default",
			newer:        withField(t, current, 15, map[string]any{"name": "campaign", "type": "string"}),
			wantBackward: true,
		},
		{name: "field with default removed", newer: withoutField(t, current, "message_id")},
		{name: "field without default removed", newer: withoutField(t, current, "raw_offset"), wantForward: true},
		{
			name:         "type changed",
			newer:        editField(t, current, "raw_offset", func(f map[string]any) { f["type"] = "string" }),
			wantBackward: true, wantForward: true,
		},
		{
			name:        "int promoted to long",
			newer:       editField(t, current, "raw_partition", func(f map[string]any) { f["type"] = "long" }),
			wantForward: true,
		},
		{
			name:         "enum symbol removed",
			newer:        editField(t, current, "kind", func(f map[string]any) { setSymbols(f, "REFERRAL", "MESSAGE", "POSTBACK", "OPTIN") }),
			wantBackward: true,
		},
		{
			name:        "enum symbol added",
			newer:       editField(t, current, "kind", func(f map[string]any) { setSymbols(f, "REFERRAL", "MESSAGE", "POSTBACK", "OPTIN", "ECHO", "REACTION") }),
			wantForward: true,
		},
		{
			name:         "record renamed",
			newer:        edit(t, current, func(s map[string]any) { s["name"] = "Event" }),
			wantBackward: true, wantForward: true,
		},
		{
			name:  "docs edited",
			newer: editField(t, current, "event_id", func(f map[string]any) { f["doc"] = "changed" }),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			backward, forward := compatibility(t, tc.newer, current)
			if got := backward != nil; got != tc.wantBackward {
				t.Errorf("backward error = %v, want error: %t", backward, tc.wantBackward)
			}
			if got := forward != nil; got != tc.wantForward {
				t.Errorf("forward error = %v, want error: %t", forward, tc.wantForward)
			}
		})
	}
}

// edit returns the schema text after fn has changed its decoded JSON.
func edit(t *testing.T, text []byte, fn func(map[string]any)) []byte {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(text, &s); err != nil {
		t.Fatalf("decoding schema: %v", err)
	}
	fn(s)
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("encoding schema: %v", err)
	}
	return out
}

func withField(t *testing.T, text []byte, at int, field map[string]any) []byte {
	t.Helper()
	return edit(t, text, func(s map[string]any) {
		s["fields"] = slices.Insert(s["fields"].([]any), at, any(field))
	})
}

func withoutField(t *testing.T, text []byte, name string) []byte {
	t.Helper()
	return edit(t, text, func(s map[string]any) {
		s["fields"] = slices.DeleteFunc(s["fields"].([]any), func(f any) bool {
			return f.(map[string]any)["name"] == name
		})
	})
}

func editField(t *testing.T, text []byte, name string, fn func(map[string]any)) []byte {
	t.Helper()
	return edit(t, text, func(s map[string]any) {
		for _, f := range s["fields"].([]any) {
			if f := f.(map[string]any); f["name"] == name {
				fn(f)
				return
			}
		}
		t.Fatalf("no field %q", name)
	})
}

// setSymbols replaces the symbols of an enum field's type.
func setSymbols(field map[string]any, symbols ...string) {
	enum := field["type"].(map[string]any)
	enum["symbols"] = symbols
}
