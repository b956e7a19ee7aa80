package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// verifyRequest checks a delivery the way the Standard Webhooks
// specification tells receivers to, written from the specification rather
// than from sign: the key is the base64 after whsec_, the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", and webhook-signature is a
// space-separated list of "v1,<base64>" of which one must match.
func verifyRequest(secret string, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing webhook headers: id %q, timestamp %q, signature %q", id, ts, sigs)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no v1 signature in %q matches", sigs)
}

func mustDecodeKey(t testing.TB, secret string) []byte {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestVerifyRequestAcceptsTheVectorOnly(t *testing.T) {
	h := http.Header{}
	h.Set("Webhook-Id", vectorID)
	h.Set("Webhook-Timestamp", "1614265330")
	h.Set("Webhook-Signature", "v1,bm9wZQ== "+vectorSignature)
	if err := verifyRequest(vectorSecret, h, []byte(vectorBody)); err != nil {
		t.Errorf("verifyRequest(vector) = %v, want nil", err)
	}
	if err := verifyRequest(vectorSecret, h, []byte(vectorBody+" ")); err == nil {
		t.Errorf("verifyRequest(altered body) = nil, want an error")
	}
}
