package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test vector published with the Standard Webhooks specification.
const (
	secret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	timestamp = "1614265330"
	body      = `{"test": 2432232314}`
	signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var vectorTime = time.Unix(1614265330, 0)

func vectorHeader(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", timestamp)
	h.Set("webhook-signature", sig)
	return h
}

func TestVerify(t *testing.T) {
	for _, c := range []struct {
		name   string
		header http.Header
		body   string
		now    time.Time
		ok     bool
	}{
		{"the vector", vectorHeader(signature), body, vectorTime, true},
		{"the vector among other signatures", vectorHeader("v1,bm9wZQ== " + signature), body, vectorTime.Add(4 * time.Minute), true},
		{"altered body", vectorHeader(signature), body + " ", vectorTime, false},
		{"too old", vectorHeader(signature), body, vectorTime.Add(6 * time.Minute), false},
		{"unknown version", vectorHeader("v2," + strings.TrimPrefix(signature, "v1,")), body, vectorTime, false},
		{"no signature", vectorHeader(""), body, vectorTime, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := verify(secret, c.header, []byte(c.body), c.now)
			if (err == nil) != c.ok {
				t.Errorf("verify = %v, want ok %v", err, c.ok)
			}
		})
	}
}

func TestHandlerPrintsVerifiedDeliveries(t *testing.T) {
	var out bytes.Buffer
	srv := httptest.NewServer(handler(secret, &out))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header = vectorHeader(signature)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The vector is from 2021: too old for the live handler.
	if resp.StatusCode != http.StatusUnauthorized || out.Len() != 0 {
		t.Errorf("stale delivery: status %d, printed %q; want 401 and nothing", resp.StatusCode, out.String())
	}
}

// TestPythonVerifier runs examples/verify_webhook.py on the vector.
func TestPythonVerifier(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and python3 is missing: %v", err)
		}
		t.Skipf("python3 not found: %v", err)
	}
	for _, c := range []struct {
		name, body, at string
		ok             bool
	}{
		{"the vector", body, timestamp, true},
		{"altered body", body + " ", timestamp, false},
		{"too old", body, "1614265700", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(python, "../verify_webhook.py", "--at", c.at, id, timestamp, "v1,bm9wZQ== "+signature)
			cmd.Env = append(os.Environ(), "NOTIFY_SECRET="+secret)
			cmd.Stdin = strings.NewReader(c.body)
			out, err := cmd.CombinedOutput()
			if (err == nil) != c.ok {
				t.Errorf("verify_webhook.py: %v, output %q; want ok %v", err, out, c.ok)
			}
		})
	}
}
