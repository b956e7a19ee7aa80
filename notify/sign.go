package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/reftrail/reftrail/internal/kafka"
)

// Header names of the Standard Webhooks specification
// (https://www.standardwebhooks.com), a contract with subscribers. webhook-id
// is also a header of notify's retry and parked records.
const (
	headerID        = kafka.HeaderWebhookID
	headerTimestamp = "webhook-timestamp"
	headerSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks signing secret; the base64 after it
// is the HMAC key.
const secretPrefix = "whsec_"

// minSecretBytes is the shortest HMAC key accepted: the specification asks
// for between 24 and 64 random bytes.
const minSecretBytes = 24

// parseSecret returns the HMAC key of a whsec_ secret. The error never quotes
// the secret.
func parseSecret(s string) ([]byte, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, errors.New("must start with whsec_ followed by base64")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("the part after whsec_ is not standard base64")
	}
	if len(key) < minSecretBytes {
		return nil, errors.New("the key after whsec_ must decode to at least 24 bytes")
	}
	return key, nil
}

// sign returns the webhook-signature value for one attempt:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
// timestamp is the attempt's Unix seconds, so a retry carries a fresh
// timestamp and signature but the same id and body.
func sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
