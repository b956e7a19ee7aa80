package eventcodec

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/event"
)

// hambaOnly returns a Decoder that reads everything with hamba, the reference
// readCurrent must agree with.
func hambaOnly(t testing.TB) *Decoder {
	t.Helper()
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	d.fast = false
	return d
}

// TestFastPathReadsCurrentSchema fails when the schema changes without
// readCurrent following it: Decode would stay correct, through hamba, but
// several times slower.
func TestFastPathReadsCurrentSchema(t *testing.T) {
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.fast {
		t.Fatalf("the current schema's fingerprint is not %#016x: update readCurrent and fastFingerprint", uint64(fastFingerprint))
	}
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ref := hambaOnly(t)
	for _, tc := range sampleEvents() {
		in, err := c.Append(nil, &tc.event)
		if err != nil {
			t.Fatal(err)
		}
		var fast, want event.Event
		if !readCurrent(in[soeHeaderLen:], &fast) {
			t.Errorf("%s: readCurrent refused an event the codec wrote", tc.name)
		}
		if err := ref.Decode(t.Context(), in, &want); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, fast); diff != "" {
			t.Errorf("%s: readCurrent differs from hamba (-hamba +fast):\n%s", tc.name, diff)
		}
	}
}

// FuzzFastDecode checks that Decode with readCurrent answers exactly as hamba
// alone does, for any body after the current schema's header: the same event,
// or an error of the same kind.
func FuzzFastDecode(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	for _, tc := range sampleEvents() {
		b, err := c.Append(nil, &tc.event)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[soeHeaderLen:])
	}
	typical := typicalEvent()
	header, err := c.Append(nil, &typical)
	if err != nil {
		f.Fatal(err)
	}
	header = header[:soeHeaderLen]
	d, err := NewDecoder(nil)
	if err != nil {
		f.Fatal(err)
	}
	ref := hambaOnly(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append(append([]byte(nil), header...), body...)
		var got, want event.Event
		gotErr, wantErr := d.Decode(t.Context(), in, &got), ref.Decode(t.Context(), in, &want)
		if (gotErr == nil) != (wantErr == nil) || errors.Is(gotErr, ErrMalformed) != errors.Is(wantErr, ErrMalformed) {
			t.Fatalf("Decode = %v, hamba alone = %v", gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Decode differs from hamba alone (-hamba +fast):\n%s", diff)
		}
	})
}
