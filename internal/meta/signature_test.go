package meta

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"object":"instagram","entry":[{"id":"17841400000000001","time":1700000000000,"messaging":[]}]}`)
	// Meta escapes non-ASCII as \uXXXX before signing: the signature covers
	// those escaped bytes, not the UTF-8 a re-encoder would produce.
	escaped := []byte(`{"object":"page","entry":[{"id":"1","messaging":[{"message":{"text":"caf\u00e9 \ud83d\ude00"}}]}]}`)
	v := NewVerifier([]string{"first-secret", "second-secret"})
	tests := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{name: "first secret", header: Sign("first-secret", body), body: body},
		{name: "second secret", header: Sign("second-secret", body), body: body},
		{name: "uppercase hex", header: "sha256=" + strings.ToUpper(strings.TrimPrefix(Sign("first-secret", body), "sha256=")), body: body},
		{name: "escaped non-ASCII body", header: Sign("first-secret", escaped), body: escaped},
		{name: "escaped body re-encoded as UTF-8", header: Sign("first-secret", escaped), body: []byte(strings.ReplaceAll(string(escaped), `caf\u00e9`, "café")), want: ErrSignatureMismatch},
		{name: "wrong secret", header: Sign("other-secret", body), body: body, want: ErrSignatureMismatch},
		{name: "tampered body", header: Sign("first-secret", body), body: append([]byte{' '}, body...), want: ErrSignatureMismatch},
		{name: "missing header", header: "", body: body, want: ErrSignatureMissing},
		{name: "sha1 scheme", header: "sha1=" + strings.Repeat("a", 40), body: body, want: ErrSignatureMalformed},
		{name: "no prefix", header: strings.TrimPrefix(Sign("first-secret", body), "sha256="), body: body, want: ErrSignatureMalformed},
		{name: "short digest", header: "sha256=abcd", body: body, want: ErrSignatureMalformed},
		{name: "not hex", header: "sha256=" + strings.Repeat("z", 64), body: body, want: ErrSignatureMalformed},
		{name: "trailing garbage", header: Sign("first-secret", body) + "00", body: body, want: ErrSignatureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.Verify(tt.header, tt.body); !errors.Is(got, tt.want) {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAccountKey(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   string
		wantOK bool
	}{
		{name: "first entry", body: `{"object":"page","entry":[{"id":"111","time":1},{"id":"222"}]}`, want: "111", wantOK: true},
		{name: "numeric id", body: `{"object":"page","entry":[{"id":1234567890123}]}`, want: "1234567890123", wantOK: true},
		{name: "entry after other fields", body: `{"object":"page","extra":{"entry":[{"id":"999"}]},"entry":[{"time":1,"messaging":[],"id":"333"}]}`, want: "333", wantOK: true},
		{name: "malformed after the id", body: `{"object":"page","entry":[{"id":"444","messaging":[{`, want: "444", wantOK: true},
		{name: "entry not an array", body: `{"object":"page","entry":{"id":"555"}}`},
		{name: "first entry not an object", body: `{"object":"page","entry":["x",{"id":"666"}]}`},
		{name: "no entries", body: `{"object":"page","entry":[]}`},
		{name: "null id", body: `{"object":"page","entry":[{"id":null}]}`},
		{name: "empty id", body: `{"object":"page","entry":[{"id":""}]}`},
		{name: "boolean id", body: `{"object":"page","entry":[{"id":true}]}`},
		{name: "not json", body: `{"object":`},
		{name: "array", body: `[1,2]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := AccountKey([]byte(tt.body))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("AccountKey = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func FuzzParseSignature(f *testing.F) {
	f.Add(Sign("s", []byte("body")))
	f.Add("sha256=")
	f.Add("sha1=abc")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		var digest [32]byte
		if err := parseSignature(header, digest[:]); err != nil {
			if !errors.Is(err, ErrSignatureMissing) && !errors.Is(err, ErrSignatureMalformed) {
				t.Fatalf("parseSignature(%q) = unexpected error %v", header, err)
			}
			return
		}
		if !strings.EqualFold(header, "sha256="+hex.EncodeToString(digest[:])) {
			t.Fatalf("parseSignature(%q) accepted a header that is not sha256=<hex of digest>", header)
		}
	})
}

func FuzzAccountKey(f *testing.F) {
	f.Add([]byte(`{"object":"page","entry":[{"id":"111"}]}`))
	f.Add([]byte(`{"entry":[{"id":12}]}`))
	f.Add([]byte(`{"entry":[{}]}`))
	f.Add([]byte(`{ "object" : "page" , "x":[1,{"a":"\\\""}], "entry" : [ { "time":1, "id" : -12.5e3 } ] }`))
	f.Add([]byte(`{"entry":[{"id":"a\u0062"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		key, ok := AccountKey(body)
		if ok && key == "" {
			t.Fatalf("AccountKey(%q) = empty key with ok", body)
		}
		if !ok && key != "" {
			t.Fatalf("AccountKey(%q) = key %q without ok", body, key)
		}
		if wantKey, wantOK := decodeAccountKey(body); key != wantKey || ok != wantOK {
			t.Fatalf("AccountKey(%q) = %q, %v; encoding/json finds %q, %v", body, key, ok, wantKey, wantOK)
		}
	})
}
