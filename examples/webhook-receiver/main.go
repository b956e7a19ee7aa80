// Command webhook-receiver is an example subscriber of reftrail's notify
// service: it verifies each delivery's Standard Webhooks signature, prints
// the verified body as one line, and answers 204 (401 when the signature is
// wrong or the timestamp too old). `make demo` points notify at it.
//
// Usage: NOTIFY_SECRET=whsec_... webhook-receiver [-addr 127.0.0.1:9180]
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// tolerance is how far a webhook-timestamp may be from now: older
// deliveries are refused as possible replays.
const tolerance = 5 * time.Minute

// verify checks a delivery's headers and body against secret (whsec_ and the
// base64 key) at now.
func verify(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not Unix seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %v away from now", d.Round(time.Second))
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("secret is not whsec_ and base64")
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, id+"."+ts+".")
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		if b64, ok := strings.CutPrefix(s, "v1,"); ok {
			if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return errors.New("no valid v1 signature")
}

func handler(secret string, out io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "reading body", http.StatusBadRequest)
			return
		}
		if err := verify(secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		// The same webhook-id again is a retry or a duplicate: a real
		// receiver stores ids it handled and skips repeats.
		fmt.Fprintf(out, "%s %s\n", r.Header.Get("webhook-id"), body)
		w.WriteHeader(http.StatusNoContent)
	})
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9180", "listen address")
	flag.Parse()
	secret := os.Getenv("NOTIFY_SECRET")
	if secret == "" {
		log.Fatal("NOTIFY_SECRET (whsec_...) is required")
	}
	log.Printf("receiving webhooks on http://%s/", *addr)
	srv := &http.Server{Addr: *addr, Handler: handler(secret, os.Stdout), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
