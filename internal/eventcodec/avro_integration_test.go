package eventcodec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/schemas"
)

// Debian's libavro-java (Apache Avro Java, the reference implementation) and
// the jars it needs to parse schemas and decode messages.
const javaDir = "/usr/share/java"

var javaJars = []string{"avro.jar", "jackson-core-asl.jar", "jackson-mapper-asl.jar", "slf4j-api.jar", "slf4j-nop.jar"}

// Debian's python3-avro lives in the system interpreter, not in whatever
// python3 comes first on PATH (pyenv, a virtualenv).
const systemPython = "/usr/bin/python3"

// runJava runs testdata/AvroCheck.java with Apache Avro Java and returns its
// standard output.
func runJava(t *testing.T, args ...string) []byte {
	t.Helper()
	java, err := exec.LookPath("java")
	if err != nil {
		testenv.Unavailable(t, "java not found (Debian: openjdk-17-jdk-headless): %v", err)
	}
	cp := make([]string, len(javaJars))
	for i, jar := range javaJars {
		cp[i] = filepath.Join(javaDir, jar)
		if _, err := os.Stat(cp[i]); err != nil {
			testenv.Unavailable(t, "Apache Avro Java not installed (Debian: libavro-java): %v", err)
		}
	}
	cmd := exec.CommandContext(t.Context(), java, append([]string{"-cp", strings.Join(cp, ":"), "testdata/AvroCheck.java"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java AvroCheck.java %s: %v\n%s", args[0], err, stderr.Bytes())
	}
	return out
}

// TestIntegrationJavaFingerprint compares our Parsing Canonical Form and
// CRC-64-AVRO with Apache Avro Java's SchemaNormalization, for the event
// schema, its released versions and every case of TestCanonicalForm.
func TestIntegrationJavaFingerprint(t *testing.T) {
	dir := t.TempDir()
	type input struct{ name, path string }
	var inputs []input
	add := func(name string, text []byte) {
		p := filepath.Join(dir, fmt.Sprintf("%03d.avsc", len(inputs)))
		if err := os.WriteFile(p, text, 0o644); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, input{name: name, path: p})
	}
	err := fs.WalkDir(schemas.Avro, "avro", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text, err := schemas.Avro.ReadFile(p)
		add(p, text)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range canonicalCases {
		add(tc.name, []byte(tc.schema))
	}
	args := []string{"fingerprint"}
	for _, in := range inputs {
		args = append(args, in.path)
	}
	lines := strings.Split(strings.TrimSuffix(string(runJava(t, args...)), "\n"), "\n")
	if len(lines) != 2*len(inputs) {
		t.Fatalf("java printed %d lines for %d schemas, want 2 each:\n%s", len(lines), len(inputs), strings.Join(lines, "\n"))
	}

	for i, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			text, err := os.ReadFile(in.path)
			if err != nil {
				t.Fatal(err)
			}
			canonical, err := CanonicalForm(text)
			if err != nil {
				t.Fatalf("CanonicalForm: %v", err)
			}
			if want := lines[2*i]; string(canonical) != want {
				t.Errorf("CanonicalForm = %s, Java's = %s", canonical, want)
			}
			want, err := strconv.ParseUint(lines[2*i+1], 16, 64)
			if err != nil {
				t.Fatalf("parsing Java's fingerprint: %v", err)
			}
			if got := Fingerprint64(canonical); got != want {
				t.Errorf("Fingerprint64 = %#016x, Java's = %#016x", got, want)
			}
			if strings.HasPrefix(in.name, schemaPath) && want != wantFingerprint {
				t.Errorf("Java's fingerprint of %s = %#016x, want %#016x", in.name, want, wantFingerprint)
			}
		})
	}
}

// TestIntegrationJavaDecode has Apache Avro Java's BinaryMessageDecoder (which
// checks the header and the fingerprint) read our single-object encodings.
func TestIntegrationJavaDecode(t *testing.T) {
	schemaFile, files, want := writeSamples(t)
	out := runJava(t, append([]string{"decode", schemaFile}, files...)...)
	compareDecoded(t, "java", out, want)
}

// TestIntegrationPythonDecode has python3-avro read our single-object
// encodings: the script checks the marker and the fingerprint, decodes the
// body with avro.io and checks that nothing is left over.
func TestIntegrationPythonDecode(t *testing.T) {
	if _, err := os.Stat(systemPython); err != nil {
		testenv.Unavailable(t, "system python not found: %v", err)
	}
	if err := exec.Command(systemPython, "-c", "import avro.io").Run(); err != nil {
		testenv.Unavailable(t, "python3-avro not installed in %s (Debian: python3-avro): %v", systemPython, err)
	}
	schemaFile, files, want := writeSamples(t)
	cmd := exec.CommandContext(t.Context(), systemPython, append([]string{"testdata/decode_soe.py", schemaFile}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode_soe.py: %v\n%s", err, stderr.Bytes())
	}
	compareDecoded(t, "python", out, want)
}

// writeSamples writes the event schema and the single-object encoding of each
// sample event to files, and returns their paths and each event as the JSON
// value a generic Avro reader should print.
func writeSamples(t *testing.T) (schemaFile string, files []string, want []any) {
	t.Helper()
	dir := t.TempDir()
	text, err := schemas.Avro.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	schemaFile = filepath.Join(dir, "referral_event.avsc")
	if err := os.WriteFile(schemaFile, text, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := NewCodec()
	if err != nil {
		t.Fatalf("NewCodec: %v", err)
	}
	for i, tc := range sampleEvents() {
		b, err := c.Append(nil, &tc.event)
		if err != nil {
			t.Fatalf("%s: Append: %v", tc.name, err)
		}
		p := filepath.Join(dir, fmt.Sprintf("%02d.bin", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		want = append(want, jsonValue(t, avroValue(reflect.ValueOf(tc.event))))
	}
	return schemaFile, files, want
}

// compareDecoded compares the JSON lines another implementation printed with
// the sample events.
func compareDecoded(t *testing.T, impl string, out []byte, want []any) {
	t.Helper()
	var got []any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber() // int64 values beyond float64 precision
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s printed %q, not JSON: %v", impl, sc.Text(), err)
		}
		got = append(got, v)
	}
	if len(got) != len(want) {
		t.Fatalf("%s decoded %d events, want %d:\n%s", impl, len(got), len(want), out)
	}
	for i, tc := range sampleEvents() {
		if diff := cmp.Diff(want[i], got[i]); diff != "" {
			t.Errorf("%s: %s decoded (-want +got):\n%s", tc.name, impl, diff)
		}
	}
}

// avroValue returns v as a generic Avro reader sees it: records as maps keyed
// by the avro tags, nil pointers as null, enums as their symbol.
func avroValue(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return avroValue(v.Elem())
	case reflect.Struct:
		m := make(map[string]any, v.NumField())
		for i := range v.NumField() {
			m[v.Type().Field(i).Tag.Get("avro")] = avroValue(v.Field(i))
		}
		return m
	}
	return v.Interface()
}

// jsonValue returns v as encoding/json decodes it with UseNumber, the form
// compareDecoded gives the other implementations' output.
func jsonValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
