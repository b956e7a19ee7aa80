package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// SignatureHeader is the header Meta signs webhook bodies in.
const SignatureHeader = "X-Hub-Signature-256"

// Signature errors, all answered 401 by ingest.
var (
	ErrSignatureMissing   = errors.New("signature header missing")
	ErrSignatureMalformed = errors.New("signature header malformed, want sha256=<64 hex digits>")
	ErrSignatureMismatch  = errors.New("signature does not match any app secret")
)

const signaturePrefix = "sha256="

// ParseSignature returns the digest in an X-Hub-Signature-256 value,
// "sha256=" followed by 64 hex digits.
func ParseSignature(header string) ([]byte, error) {
	if header == "" {
		return nil, ErrSignatureMissing
	}
	hexDigest, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(hexDigest) != 2*sha256.Size {
		return nil, ErrSignatureMalformed
	}
	digest, err := hex.DecodeString(hexDigest)
	if err != nil {
		return nil, ErrSignatureMalformed
	}
	return digest, nil
}

// Verifier checks webhook signatures against every configured app secret:
// Instagram and Messenger apps may have different secrets, and a rotation
// needs the old and the new one accepted for a while.
type Verifier struct {
	secrets [][]byte
}

// NewVerifier returns a Verifier for the given app secrets.
func NewVerifier(secrets []string) *Verifier {
	v := &Verifier{secrets: make([][]byte, len(secrets))}
	for i, s := range secrets {
		v.secrets[i] = []byte(s)
	}
	return v
}

// Verify checks header, an X-Hub-Signature-256 value, against the HMAC-SHA256
// of the exact body bytes. The body must not be re-encoded first: Meta signs its
// own escaping of non-ASCII text. Comparison is constant time, and every secret
// is tried so timing does not tell which one matched.
func (v *Verifier) Verify(header string, body []byte) error {
	want, err := ParseSignature(header)
	if err != nil {
		return err
	}
	matched := false
	for _, secret := range v.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), want) {
			matched = true
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	return nil
}

// Sign returns the X-Hub-Signature-256 value Meta would send for body, for
// tests and the demo traffic generator.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}
