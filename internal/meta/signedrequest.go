package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// SignedRequest is the payload of a signed_request that Meta POSTs to an app's
// data deletion callback URL.
type SignedRequest struct {
	// Algorithm is always HMAC-SHA256.
	Algorithm string `json:"algorithm"`
	// IssuedAt is Unix seconds.
	IssuedAt int64 `json:"issued_at"`
	// UserID is app-scoped: not the PSID / IGSID that messaging webhooks
	// carry, so it matches no participant unless the business stored a
	// mapping.
	UserID string `json:"user_id"`
}

// Signed request errors, all answered 400 by ingest.
var (
	ErrSignedRequestMalformed = errors.New("signed_request malformed, want <signature>.<payload> in base64url")
	ErrSignedRequestMismatch  = errors.New("signed_request signature does not match any app secret")
	ErrSignedRequestAlgorithm = errors.New("signed_request algorithm is not HMAC-SHA256")
)

// b64 decodes base64url as Meta writes it, without padding; padded input is
// accepted too, as some SDKs add it.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// ParseSignedRequest checks a signed_request, "<sig>.<payload>" in base64url,
// where sig is the HMAC-SHA256 of the encoded payload string keyed by the app
// secret, against every secret of v, and returns the payload. The payload's
// algorithm must be HMAC-SHA256 and its user_id present.
func (v *Verifier) ParseSignedRequest(signed string) (SignedRequest, error) {
	var sr SignedRequest
	encSig, encPayload, ok := strings.Cut(signed, ".")
	if !ok || encSig == "" || encPayload == "" {
		return sr, ErrSignedRequestMalformed
	}
	sig, err := b64(encSig)
	if err != nil || len(sig) != sha256.Size {
		return sr, ErrSignedRequestMalformed
	}
	payload, err := b64(encPayload)
	if err != nil {
		return sr, ErrSignedRequestMalformed
	}
	matched := false
	for _, pool := range v.macs {
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write([]byte(encPayload))
		if hmac.Equal(mac.Sum(nil), sig) {
			matched = true
		}
		pool.Put(mac)
	}
	if !matched {
		return sr, ErrSignedRequestMismatch
	}
	if err := json.Unmarshal(payload, &sr); err != nil {
		return sr, fmt.Errorf("%w: payload is not the JSON object Meta sends", ErrSignedRequestMalformed)
	}
	if !strings.EqualFold(sr.Algorithm, "HMAC-SHA256") {
		return sr, ErrSignedRequestAlgorithm
	}
	if sr.UserID == "" {
		return sr, fmt.Errorf("%w: no user_id", ErrSignedRequestMalformed)
	}
	return sr, nil
}

// SignRequest builds the signed_request Meta would send for payload (a JSON
// object), for tests and local runs.
func SignRequest(secret string, payload []byte) string {
	enc := base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
}
