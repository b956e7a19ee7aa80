package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
)

// signedBy builds a signed_request by hand from the documented format, not
// with SignRequest, so that both sides are checked against the format.
func signedBy(secret, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
}

func TestParseSignedRequest(t *testing.T) {
	v := NewVerifier([]string{"old-secret", "app-secret"})
	const good = `{"algorithm":"HMAC-SHA256","expires":1291840400,"issued_at":1291836800,"user_id":"218471"}`
	tests := []struct {
		name    string
		signed  string
		want    SignedRequest
		wantErr error
	}{
		{name: "valid", signed: signedBy("app-secret", good), want: SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: 1291836800, UserID: "218471"}},
		{name: "valid, signature padded", signed: func() string {
			enc := base64.RawURLEncoding.EncodeToString([]byte(good))
			mac := hmac.New(sha256.New, []byte("app-secret"))
			mac.Write([]byte(enc))
			return base64.URLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
		}(), want: SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: 1291836800, UserID: "218471"}},
		{name: "SignRequest agrees", signed: SignRequest("old-secret", []byte(good)), want: SignedRequest{Algorithm: "HMAC-SHA256", IssuedAt: 1291836800, UserID: "218471"}},
		{name: "other secret", signed: signedBy("someone-else", good), wantErr: ErrSignedRequestMismatch},
		{name: "signature over the decoded payload", signed: func() string {
			mac := hmac.New(sha256.New, []byte("app-secret"))
			mac.Write([]byte(good))
			return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + base64.RawURLEncoding.EncodeToString([]byte(good))
		}(), wantErr: ErrSignedRequestMismatch},
		{name: "bad algorithm", signed: signedBy("app-secret", `{"algorithm":"HMAC-SHA1","issued_at":1,"user_id":"1"}`), wantErr: ErrSignedRequestAlgorithm},
		{name: "no algorithm", signed: signedBy("app-secret", `{"issued_at":1,"user_id":"1"}`), wantErr: ErrSignedRequestAlgorithm},
		{name: "no user", signed: signedBy("app-secret", `{"algorithm":"HMAC-SHA256","issued_at":1}`), wantErr: ErrSignedRequestMalformed},
		{name: "payload not JSON", signed: signedBy("app-secret", `user=1`), wantErr: ErrSignedRequestMalformed},
		{name: "no dot", signed: "abc", wantErr: ErrSignedRequestMalformed},
		{name: "empty", signed: "", wantErr: ErrSignedRequestMalformed},
		{name: "signature not base64url", signed: "***." + base64.RawURLEncoding.EncodeToString([]byte(good)), wantErr: ErrSignedRequestMalformed},
		{name: "signature too short", signed: "YWJj." + base64.RawURLEncoding.EncodeToString([]byte(good)), wantErr: ErrSignedRequestMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.ParseSignedRequest(tt.signed)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseSignedRequest = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseSignedRequest = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func FuzzParseSignedRequest(f *testing.F) {
	f.Add(signedBy("s", `{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"1"}`))
	f.Add("a.b")
	v := NewVerifier([]string{"s"})
	f.Fuzz(func(t *testing.T, signed string) {
		sr, err := v.ParseSignedRequest(signed)
		if err == nil && sr.UserID == "" {
			t.Errorf("accepted %q without a user_id", signed)
		}
	})
}
