package eventcodec

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/reftrail/reftrail/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// wantFingerprint is the CRC-64-AVRO fingerprint of the Parsing Canonical Form
// of schemas/avro/referral_event.avsc, as Apache Avro Java computes it
// (TestIntegrationJavaFingerprint). It changes only when a field, type name or
// symbol changes: never for doc or default edits.
const wantFingerprint uint64 = 0x66accfc334da0843

const canonicalGolden = "testdata/referral_event.canonical.json"

// canonicalCases are the Avro specification's test vectors
// (share/test/data/schema-tests.txt in apache/avro; fingerprints as Java's
// signed longs, 0 where the file gives none) followed by cases for what
// reftrail's schema relies on. TestIntegrationJavaFingerprint also runs them
// through Apache Avro Java.
var canonicalCases = []struct {
	name        string
	schema      string
	want        string
	fingerprint int64
}{
	{name: "spec 000 null", schema: `"null"`, want: `"null"`, fingerprint: 7195948357588979594},
	{name: "spec 001 null object", schema: `{"type":"null"}`, want: `"null"`},
	{name: "spec 002 boolean", schema: `"boolean"`, want: `"boolean"`, fingerprint: -6970731678124411036},
	{name: "spec 003 boolean object", schema: `{"type":"boolean"}`, want: `"boolean"`},
	{name: "spec 004 int", schema: `"int"`, want: `"int"`, fingerprint: 8247732601305521295},
	{name: "spec 005 int object", schema: `{"type":"int"}`, want: `"int"`},
	{name: "spec 006 long", schema: `"long"`, want: `"long"`, fingerprint: -3434872931120570953},
	{name: "spec 007 long object", schema: `{"type":"long"}`, want: `"long"`},
	{name: "spec 008 float", schema: `"float"`, want: `"float"`, fingerprint: 5583340709985441680},
	{name: "spec 009 float object", schema: `{"type":"float"}`, want: `"float"`},
	{name: "spec 010 double", schema: `"double"`, want: `"double"`, fingerprint: -8181574048448539266},
	{name: "spec 011 double object", schema: `{"type":"double"}`, want: `"double"`},
	{name: "spec 012 bytes", schema: `"bytes"`, want: `"bytes"`, fingerprint: 5746618253357095269},
	{name: "spec 013 bytes object", schema: `{"type":"bytes"}`, want: `"bytes"`},
	{name: "spec 014 string", schema: `"string"`, want: `"string"`, fingerprint: -8142146995180207161},
	{name: "spec 015 string object", schema: `{"type":"string"}`, want: `"string"`},
	{name: "spec 016 empty union", schema: `[  ]`, want: `[]`, fingerprint: -1241056759729112623},
	{name: "spec 017 union", schema: `[ "int"  ]`, want: `["int"]`, fingerprint: -5232228896498058493},
	{name: "spec 018 union of two", schema: `[ "int" , {"type":"boolean"} ]`, want: `["int","boolean"]`, fingerprint: 5392556393470105090},
	{name: "spec 019 record", schema: `{"fields":[], "type":"record", "name":"foo"}`, want: `{"name":"foo","type":"record","fields":[]}`, fingerprint: -4824392279771201922},
	{name: "spec 020 record namespace", schema: `{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}`, want: `{"name":"x.y.foo","type":"record","fields":[]}`, fingerprint: 5916914534497305771},
	{name: "spec 021 record fullname wins", schema: `{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}`, want: `{"name":"a.b.foo","type":"record","fields":[]}`, fingerprint: -4616218487480524110},
	{name: "spec 022 doc", schema: `{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}`, want: `{"name":"foo","type":"record","fields":[]}`, fingerprint: -4824392279771201922},
	{name: "spec 023 aliases", schema: `{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}`, want: `{"name":"foo","type":"record","fields":[]}`, fingerprint: -4824392279771201922},
	{name: "spec 024 doc and aliases", schema: `{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}`, want: `{"name":"foo","type":"record","fields":[]}`, fingerprint: -4824392279771201922},
	{name: "spec 025 field", schema: `{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}`, want: `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}`, fingerprint: 7843277075252814651},
	{
		name: "spec 026 field attributes",
		schema: `{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},
		            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],
		  "type":"record", "name":"foo"
		}`,
		want:        `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}`,
		fingerprint: -4860222112080293046,
	},
	{name: "spec 027 enum", schema: `{"type":"enum", "name":"foo", "symbols":["A1"]}`, want: `{"name":"foo","type":"enum","symbols":["A1"]}`, fingerprint: -6342190197741309591},
	{name: "spec 028 enum namespace", schema: `{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}`, want: `{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}`, fingerprint: -4448647247586288245},
	{name: "spec 029 fixed", schema: `{"name":"foo","type":"fixed","size":15}`, want: `{"name":"foo","type":"fixed","size":15}`, fingerprint: 1756455273707447556},
	{name: "spec 030 fixed namespace", schema: `{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}`, want: `{"name":"x.y.z.foo","type":"fixed","size":32}`, fingerprint: -3064184465700546786},
	{name: "spec 031 array", schema: `{ "items":{"type":"null"}, "type":"array"}`, want: `{"type":"array","items":"null"}`, fingerprint: -589620603366471059},
	{name: "spec 032 map", schema: `{ "values":"string", "type":"map"}`, want: `{"type":"map","values":"string"}`, fingerprint: -8732877298790414990},
	{
		name:        "spec 033 recursive",
		schema:      `{"name":"PigValue","type":"record","fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}`,
		want:        `{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}`,
		fingerprint: -1759257747318642341,
	},
	{name: "logical type dropped", schema: `{"type":"long","logicalType":"timestamp-millis"}`, want: `"long"`},
	{name: "fixed logical type dropped", schema: `{"type":"fixed","name":"d","size":8,"logicalType":"decimal","precision":10}`, want: `{"name":"d","type":"fixed","size":8}`},
	{
		name: "nested types inherit the namespace",
		schema: `{"type":"record","name":"R","namespace":"a","fields":[
			{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}},
			{"name":"f","type":{"type":"record","name":"b.F","fields":[{"name":"g","type":{"type":"fixed","name":"G","size":1}}]}},
			{"name":"h","type":"E"},
			{"name":"i","type":"b.G"},
			{"name":"j","type":"a.E"}]}`,
		want: `{"name":"a.R","type":"record","fields":[` +
			`{"name":"e","type":{"name":"a.E","type":"enum","symbols":["X"]}},` +
			`{"name":"f","type":{"name":"b.F","type":"record","fields":[{"name":"g","type":{"name":"b.G","type":"fixed","size":1}}]}},` +
			`{"name":"h","type":"a.E"},{"name":"i","type":"b.G"},{"name":"j","type":"a.E"}]}`,
	},
	{
		name:   "nullable record with defaults",
		schema: `{"type":"record","name":"R","fields":[{"name":"r","type":["null",{"type":"record","name":"S","fields":[{"name":"m","type":{"type":"map","values":{"type":"array","items":"long"}}}]}],"default":null}]}`,
		want:   `{"name":"R","type":"record","fields":[{"name":"r","type":["null",{"name":"S","type":"record","fields":[{"name":"m","type":{"type":"map","values":{"type":"array","items":"long"}}}]}]}]}`,
	},
	{name: "error is a record", schema: `{"type":"error","name":"Oops","fields":[]}`, want: `{"name":"Oops","type":"record","fields":[]}`},
}

func TestCanonicalForm(t *testing.T) {
	for _, tc := range canonicalCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalForm([]byte(tc.schema))
			if err != nil {
				t.Fatalf("CanonicalForm: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("CanonicalForm = %s, want %s", got, tc.want)
			}
			if tc.fingerprint == 0 {
				return
			}
			if got := int64(Fingerprint64(got)); got != tc.fingerprint {
				t.Errorf("Fingerprint64 = %d, want %d", got, tc.fingerprint)
			}
		})
	}
}

func TestCanonicalFormErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema string
	}{
		{name: "not JSON", schema: `{"type":`},
		{name: "trailing data", schema: `"int" "long"`},
		{name: "number", schema: `1`},
		{name: "undefined name", schema: `"Foo"`},
		{name: "type not a string", schema: `{"type":{"type":"int"}}`},
		{name: "named type referenced as an object", schema: `["null",{"type":"enum","name":"E","symbols":["A"]},{"type":"E"}]`},
		{name: "record without name", schema: `{"type":"record","fields":[]}`},
		{name: "record without fields", schema: `{"type":"record","name":"R"}`},
		{name: "invalid name", schema: `{"type":"record","name":"1R","fields":[]}`},
		{name: "invalid field name", schema: `{"type":"record","name":"R","fields":[{"name":"a-b","type":"int"}]}`},
		{name: "field without type", schema: `{"type":"record","name":"R","fields":[{"name":"a"}]}`},
		{name: "type defined twice", schema: `["null",{"type":"enum","name":"E","symbols":["A"]},{"type":"enum","name":"E","symbols":["A"]}]`},
		{name: "enum without symbols", schema: `{"type":"enum","name":"E"}`},
		{name: "invalid symbol", schema: `{"type":"enum","name":"E","symbols":["A B"]}`},
		{name: "fixed size not a number", schema: `{"type":"fixed","name":"F","size":"8"}`},
		{name: "fixed size negative", schema: `{"type":"fixed","name":"F","size":-1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CanonicalForm([]byte(tc.schema))
			if err == nil {
				t.Errorf("CanonicalForm = %s, want an error", got)
			}
		})
	}
}

func TestFingerprint64Empty(t *testing.T) {
	if got, want := Fingerprint64(nil), uint64(0xc15d213aa4d7a795); got != want {
		t.Errorf("Fingerprint64(nil) = %#016x, want %#016x", got, want)
	}
}

// TestReferralEventCanonical pins the canonical form and fingerprint of the
// event schema: a change here is a change for every subscriber.
func TestReferralEventCanonical(t *testing.T) {
	text, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CanonicalForm(text)
	if err != nil {
		t.Fatalf("CanonicalForm: %v", err)
	}
	if *update {
		if err := os.WriteFile(canonicalGolden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(filepath.FromSlash(canonicalGolden))
	if err != nil {
		t.Fatalf("reading golden file (refresh with -update): %v", err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("CanonicalForm =\n%s\nwant (%s, refresh with -update)\n%s", got, canonicalGolden, want)
	}
	if fp := Fingerprint64(got); fp != wantFingerprint {
		t.Errorf("fingerprint = %#016x, want %#016x", fp, wantFingerprint)
	}
	s, err := currentSchema()
	if err != nil {
		t.Fatal(err)
	}
	if s.fingerprint != wantFingerprint {
		t.Errorf("currentSchema().fingerprint = %#016x, want %#016x", s.fingerprint, wantFingerprint)
	}
}
