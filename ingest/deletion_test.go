package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/deletion"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/kafka"
)

// metaSigned builds a signed_request as Meta documents it: base64url without
// padding of the HMAC-SHA256 of the encoded payload, a dot, the encoded payload.
func metaSigned(secret, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
}

func postForm(t *testing.T, target string, form url.Values) (int, map[string]string) {
	t.Helper()
	resp, err := http.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not a JSON object: %v", err)
	}
	return resp.StatusCode, body
}

func get(t *testing.T, target, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// deletionRecords reads the deletion topic from the start until a poll is quiet.
func deletionRecords(t *testing.T, brokers []string) []deletion.Request {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafka.DefaultDeletionTopic), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []deletion.Request
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fetches := cl.PollFetches(ctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			req, err := deletion.Parse(r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, req)
		})
		if n == 0 {
			return out
		}
	}
}

// TestDataDeletionCallback posts signed requests built from Meta's documented
// format to ingest: an invalid one is refused with 400 and a JSON error and
// nothing recorded; a valid one is recorded and answered with the status URL
// and code; the status page tells what happened, before and after
// reftrailctl deletions process records an outcome.
func TestDataDeletionCallback(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	in := startIngest(t, brokers, map[string]string{"INGEST_PUBLIC_URL": "https://hooks.example.com/"})
	const payload = `{"algorithm":"HMAC-SHA256","expires":1763700000,"issued_at":1763696400,"user_id":"10231234567890"}`

	invalid := []struct {
		name, signed, wantErr string
	}{
		{"bad signature", metaSigned("not-the-app-secret", payload), "signed_request signature does not match"},
		{"bad algorithm", metaSigned(testSecret, `{"algorithm":"HMAC-SHA1","issued_at":1763696400,"user_id":"1"}`), "signed_request algorithm must be HMAC-SHA256"},
		{"malformed", "no-dot-here", "signed_request is invalid"},
		{"payload not JSON", metaSigned(testSecret, "user_id=1"), "signed_request is invalid"},
		{"missing", "", "signed_request is missing"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			status, body := postForm(t, in.url+"/data-deletion", url.Values{"signed_request": {tt.signed}})
			if status != http.StatusBadRequest || body["error"] != tt.wantErr {
				t.Errorf("answer = %d %v, want 400 with error %q", status, body, tt.wantErr)
			}
		})
	}

	// The second app's secret verifies too. ingest creates the deletion
	// topic in the background and answers 503 until it exists.
	var (
		status int
		body   map[string]string
	)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		status, body = postForm(t, in.url+"/data-deletion", url.Values{"signed_request": {metaSigned(testSecondAppSecret, payload)}})
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	code := body["confirmation_code"]
	if status != http.StatusOK || !regexp.MustCompile(`^[A-Za-z0-9]{16,}$`).MatchString(code) ||
		body["url"] != "https://hooks.example.com/data-deletion/status/"+code || len(body) != 2 {
		t.Fatalf("answer = %d %v, want 200 with an alphanumeric code and its status URL", status, body)
	}

	recs := deletionRecords(t, brokers)
	if len(recs) != 1 {
		t.Fatalf("deletion topic holds %d records, want only the valid request's", len(recs))
	}
	if r := recs[0]; r.Code != code || r.UserID != "10231234567890" || r.Status != deletion.Received || !r.IssuedAt.Equal(time.Unix(1763696400, 0)) {
		t.Errorf("recorded %+v", r)
	}

	statusURL := in.url + "/data-deletion/status/" + code
	st, page := get(t, statusURL, "")
	if st != http.StatusOK || !strings.Contains(page, "not processed yet") || !strings.Contains(page, "app-scoped ID") || strings.Contains(page, "10231234567890") {
		t.Errorf("status page = %d:\n%s\nwant 200, not processed yet, the app-scoped caveat, and never the user id", st, page)
	}
	if st, _ := get(t, in.url+"/data-deletion/status/NOSUCHCODE", ""); st != http.StatusNotFound {
		t.Errorf("unknown code: %d, want 404", st)
	}

	// What reftrailctl deletions process writes once it erased the mapped people.
	done := recs[0]
	done.Status, done.FinishedAt, done.UpdatedAt, done.People, done.RowsRemoved = deletion.Erased, time.Date(2025, 11, 21, 9, 30, 0, 0, time.UTC), time.Now(), 1, 12
	rec, err := done.Record(kafka.DefaultDeletionTopic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, js := get(t, statusURL, "application/json")
		var got map[string]string
		json.Unmarshal([]byte(js), &got)
		if got["status"] == "erased" {
			if got["finished_at"] != "2025-11-21T09:30:00Z" || !strings.Contains(got["message"], "was deleted on 21 November 2025 at 09:30 UTC") {
				t.Errorf("status after erasure = %v", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status page still says %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDataDeletionOffWithoutPublicURL keeps the callback off unless
// INGEST_PUBLIC_URL says where people can check their status.
func TestDataDeletionOffWithoutPublicURL(t *testing.T) {
	in := startIngest(t, kafkatest.Brokers(t), nil)
	resp, err := http.PostForm(in.url+"/data-deletion", url.Values{"signed_request": {metaSigned(testSecret, `{"algorithm":"HMAC-SHA256","issued_at":1,"user_id":"1"}`)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST /data-deletion without INGEST_PUBLIC_URL: %d, want 404", resp.StatusCode)
	}
}
