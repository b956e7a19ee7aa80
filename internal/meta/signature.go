package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"strings"
	"sync"
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

// parseSignature reads the digest in an X-Hub-Signature-256 value,
// "sha256=" followed by 64 hex digits, into digest (sha256.Size bytes).
func parseSignature(header string, digest []byte) error {
	if header == "" {
		return ErrSignatureMissing
	}
	hexDigest, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(hexDigest) != 2*sha256.Size {
		return ErrSignatureMalformed
	}
	for i := range digest {
		hi, ok1 := fromHex(hexDigest[2*i])
		lo, ok2 := fromHex(hexDigest[2*i+1])
		if !ok1 || !ok2 {
			return ErrSignatureMalformed
		}
		digest[i] = hi<<4 | lo
	}
	return nil
}

// fromHex decodes a hex digit, as encoding/hex does (either case), from a
// string without copying it to bytes first.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// CheckSignature reports whether header, an X-Hub-Signature-256 value, is
// well formed, without allocating: ingest checks it before reading a body.
func CheckSignature(header string) error {
	var digest [sha256.Size]byte
	return parseSignature(header, digest[:])
}

// Verifier checks webhook signatures against every configured app secret:
// Instagram and Messenger apps may have different secrets, and a rotation
// needs the old and the new one accepted for a while.
type Verifier struct {
	// macs holds, per secret, HMACs keyed with it: keying one costs as
	// much as hashing a small body, and Reset returns it to the keyed state.
	macs []*sync.Pool
}

// NewVerifier returns a Verifier for the given app secrets.
func NewVerifier(secrets []string) *Verifier {
	v := &Verifier{macs: make([]*sync.Pool, len(secrets))}
	for i, s := range secrets {
		key := []byte(s)
		v.macs[i] = &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	}
	return v
}

// Verify checks header, an X-Hub-Signature-256 value, against the HMAC-SHA256
// of the exact body bytes. The body must not be re-encoded first: Meta signs its
// own escaping of non-ASCII text. Comparison is constant time. Secrets are
// tried in order and the first match ends the search: the timing can tell
// only which secret a valid signature was made with, and whoever made it holds
// that secret already. A forged signature is checked against every secret.
func (v *Verifier) Verify(header string, body []byte) error {
	var want [sha256.Size]byte
	if err := parseSignature(header, want[:]); err != nil {
		return err
	}
	var sum [sha256.Size]byte
	for _, pool := range v.macs {
		mac := pool.Get().(hash.Hash)
		mac.Reset()
		mac.Write(body)
		matched := hmac.Equal(mac.Sum(sum[:0]), want[:])
		pool.Put(mac)
		if matched {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// Sign returns the X-Hub-Signature-256 value Meta would send for body, for
// tests and the demo traffic generator.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return signaturePrefix + hex.EncodeToString(mac.Sum(nil))
}
