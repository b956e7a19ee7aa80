package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// The test vector published with the Standard Webhooks specification and
// checked by its reference libraries.
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesTheSpecificationVector(t *testing.T) {
	// The vector's key is 23 bytes, below what NOTIFY_SECRET accepts, so it
	// is decoded here without parseSecret's length rule.
	key := mustDecodeKey(t, vectorSecret)
	if got := sign(key, vectorID, vectorTimestamp, []byte(vectorBody)); got != vectorSignature {
		t.Errorf("sign(vector) = %q, want %q", got, vectorSignature)
	}
	for _, c := range []struct {
		name      string
		id        string
		timestamp int64
		body      string
	}{
		{"other id", vectorID + "x", vectorTimestamp, vectorBody},
		{"other timestamp", vectorID, vectorTimestamp + 1, vectorBody},
		{"other body", vectorID, vectorTimestamp, vectorBody + " "},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := sign(key, c.id, c.timestamp, []byte(c.body)); got == vectorSignature {
				t.Errorf("sign = the vector's signature, want a different one")
			}
		})
	}
}

func TestParseSecret(t *testing.T) {
	for _, c := range []struct {
		name, secret, wantErr string
	}{
		{"32 bytes", "whsec_" + strings.Repeat("A", 43) + "=", ""},
		{"no prefix", strings.Repeat("A", 44), "must start with whsec_"},
		{"not base64", "whsec_" + strings.Repeat("*", 44), "not standard base64"},
		{"too short", "whsec_AAAA", "at least 24 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseSecret(c.secret)
			switch {
			case c.wantErr == "" && err != nil:
				t.Errorf("parseSecret = %v, want nil", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Errorf("parseSecret = %v, want an error containing %q", err, c.wantErr)
			case err != nil && strings.Contains(err.Error(), c.secret):
				t.Errorf("parseSecret error %q quotes the secret", err)
			}
		})
	}
}

// FuzzSign checks sign against the independent verifier: every signature
// verifies, and none verifies another body.
func FuzzSign(f *testing.F) {
	f.Add(vectorID, int64(vectorTimestamp), []byte(vectorBody), byte(0))
	f.Add("", int64(0), []byte{}, byte(1))
	f.Fuzz(func(t *testing.T, id string, ts int64, body []byte, flip byte) {
		if strings.ContainsAny(id, " \t\r\n") || id == "" {
			return // not a header value a request could carry
		}
		key := mustDecodeKey(t, testSecret)
		h := http.Header{}
		h.Set("Webhook-Id", id)
		h.Set("Webhook-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("Webhook-Signature", sign(key, id, ts, body))
		if err := verifyRequest(testSecret, h, body); err != nil {
			t.Fatalf("a signature from sign fails verification: %v", err)
		}
		altered := append([]byte{flip}, body...)
		if err := verifyRequest(testSecret, h, altered); err == nil {
			t.Fatalf("the signature of %q verifies %q too", body, altered)
		}
	})
}
