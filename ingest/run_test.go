package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/meta"
)

const (
	testSecret          = "test-app-secret"
	testSecondAppSecret = "second-app-secret"
	testVerifyToken     = "test-verify-token"
	testTopic           = "meta.webhooks.raw"
)

// ingestUnderTest is one ingest started through run, stopped when the test ends.
type ingestUnderTest struct {
	url   string // the public port: /webhook, /healthz
	admin string // METRICS_ADDR: /metrics, /readyz
	stop  context.CancelFunc
	done  chan error
}

// startIngest runs ingest against brokers with env overriding the defaults, and
// waits until /readyz answers 200.
func startIngest(t testing.TB, brokers []string, env map[string]string) *ingestUnderTest {
	t.Helper()
	in := launchIngest(t, brokers, env, io.Discard)
	testenv.WaitReadyz(t, in.admin, http.StatusOK, 20*time.Second)
	return in
}

// testVars is the configuration of an ingest under test on brokers, serving
// webhooks on addr and /readyz on adminAddr.
func testVars(brokers []string, addr, adminAddr string) map[string]string {
	return map[string]string{
		"KAFKA_BROKERS":     strings.Join(brokers, ","),
		"INGEST_ADDR":       addr,
		"METRICS_ADDR":      adminAddr,
		"META_APP_SECRETS":  testSecret + "," + testSecondAppSecret,
		"META_VERIFY_TOKEN": testVerifyToken,
		"TOPIC_PARTITIONS":  "3",
	}
}

// launchIngest runs ingest as startIngest does, logging to logs, without
// waiting for /readyz.
func launchIngest(t testing.TB, brokers []string, env map[string]string, logs io.Writer) *ingestUnderTest {
	t.Helper()
	addr, adminAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	vars := testVars(brokers, addr, adminAddr)
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &ingestUnderTest{url: "http://" + addr, admin: "http://" + adminAddr, stop: cancel, done: make(chan error, 1)}
	go func() {
		in.done <- run(ctx, nil, func(k string) string { return vars[k] }, logs, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-in.done; err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	})
	return in
}

func post(t *testing.T, url string, body []byte, header map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /webhook: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func signed(body []byte) map[string]string {
	return map[string]string{meta.SignatureHeader: meta.Sign(testSecret, body)}
}

// readRaw consumes the raw topic from the start until it has want records, or
// fails the test after a while.
func readRaw(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(testTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d raw records, want %d", len(recs), want)
		}
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// countRaw returns how many records the raw topic holds.
func countRaw(t testing.TB, brokers []string) int64 {
	t.Helper()
	return countRecords(t, brokers, testTopic)
}

// countRecords is how many records name's three partitions hold.
func countRecords(t testing.TB, brokers []string, name string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	topic := kmsg.NewListOffsetsRequestTopic()
	topic.Topic = name
	for p := range int32(3) {
		part := kmsg.NewListOffsetsRequestTopicPartition()
		part.Partition = p
		part.Timestamp = -1 // latest
		topic.Partitions = append(topic.Partitions, part)
	}
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatalf("listing offsets: %v", err)
	}
	var n int64
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			n += p.Offset
		}
	}
	return n
}

func headerMap(r *kgo.Record) map[string]string {
	m := make(map[string]string, len(r.Headers))
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestHandshake(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	in := startIngest(t, brokers, nil)
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantBody   string
	}{
		{name: "right token", query: "hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1158201444", wantStatus: 200, wantBody: "1158201444"},
		{name: "challenge echoed exactly", query: "hub.mode=subscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=a%20b%3Cc%3E", wantStatus: 200, wantBody: "a b<c>"},
		{name: "wrong token", query: "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1158201444", wantStatus: 403},
		{name: "wrong mode", query: "hub.mode=unsubscribe&hub.verify_token=" + testVerifyToken + "&hub.challenge=1", wantStatus: 403},
		{name: "missing token", query: "hub.mode=subscribe&hub.challenge=1158201444", wantStatus: 403},
		{name: "missing challenge", query: "hub.mode=subscribe&hub.verify_token=" + testVerifyToken, wantStatus: 403},
		{name: "missing mode", query: "hub.verify_token=" + testVerifyToken + "&hub.challenge=1", wantStatus: 403},
		{name: "no parameters", query: "", wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(in.url + "/webhook?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus == 200 {
				if string(body) != tt.wantBody {
					t.Errorf("body = %q, want %q", body, tt.wantBody)
				}
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type = %q, want text/plain", ct)
				}
			}
		})
	}
}

func TestPostProducesOnlyVerifiedBodies(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	in := startIngest(t, brokers, nil)
	fixture, err := os.ReadFile("testdata/instagram_referral_batch.json")
	if err != nil {
		t.Fatal(err)
	}
	// Meta escapes non-ASCII before signing; the produced bytes must be the
	// escaped ones, unchanged.
	escaped := []byte(`{"object":"page","entry":[{"id":"106000000000001","time":1763700000000,"messaging":[{"sender":{"id":"2400000000000001"},"recipient":{"id":"106000000000001"},"timestamp":1763700000000,"message":{"mid":"m_escaped","text":"caf\u00e9 \ud83d\ude00"}}]}]}`)
	malformed := []byte(`{"object":"page","entry":[{"id":"106000000000001"`)
	// Over Kafka's default 1 MB record limit, under the 4 MiB body limit.
	large := []byte(`{"object":"page","entry":[{"id":"106000000000003","messaging":[]}],"pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	tests := []struct {
		name       string
		body       []byte
		header     map[string]string
		wantStatus int
		wantKey    string // "" with status 200: produced without a key
	}{
		{name: "valid signature", body: fixture, header: signed(fixture), wantStatus: 200, wantKey: "17841400000000001"},
		{name: "second secret", body: []byte(`{"object":"page","entry":[{"id":"106000000000002","messaging":[]}]}`), wantStatus: 200, wantKey: "106000000000002",
			header: map[string]string{meta.SignatureHeader: meta.Sign(testSecondAppSecret, []byte(`{"object":"page","entry":[{"id":"106000000000002","messaging":[]}]}`))}},
		{name: "non-ASCII escaped as Meta does", body: escaped, header: signed(escaped), wantStatus: 200, wantKey: "106000000000001"},
		{name: "malformed JSON still produced", body: malformed, header: signed(malformed), wantStatus: 200, wantKey: "106000000000001"},
		{name: "not JSON produced unkeyed", body: []byte("not json"), header: signed([]byte("not json")), wantStatus: 200},
		{name: "2 MiB body", body: large, header: signed(large), wantStatus: 200, wantKey: "106000000000003"},
		{name: "wrong secret", body: []byte(`{"n":1}`), header: map[string]string{meta.SignatureHeader: meta.Sign("other", []byte(`{"n":1}`))}, wantStatus: 401},
		{name: "missing header", body: []byte(`{"n":2}`), wantStatus: 401},
		{name: "malformed header", body: []byte(`{"n":3}`), header: map[string]string{meta.SignatureHeader: "sha256=xyz"}, wantStatus: 401},
		{name: "sha1 only", body: []byte(`{"n":4}`), header: map[string]string{"X-Hub-Signature": "sha1=" + strings.Repeat("0", 40)}, wantStatus: 401},
		{name: "tampered body", body: []byte(`{"n":6}`), header: signed([]byte(`{"n":5}`)), wantStatus: 401},
	}
	var accepted [][]byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := time.Now().UnixMilli()
			status, header := post(t, in.url, tt.body, tt.header)
			after := time.Now().UnixMilli()
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d", status, tt.wantStatus)
			}
			if status != 200 {
				return
			}
			accepted = append(accepted, tt.body)
			recs := readRaw(t, brokers, len(accepted))
			rec := recs[len(recs)-1]
			for _, r := range recs {
				if bytes.Equal(r.Value, tt.body) {
					rec = r
				}
			}
			if !bytes.Equal(rec.Value, tt.body) {
				t.Fatalf("produced value (%d bytes) is not the body unchanged (%d bytes)", len(rec.Value), len(tt.body))
			}
			if string(rec.Key) != tt.wantKey {
				t.Errorf("key = %q, want %q", rec.Key, tt.wantKey)
			}
			h := headerMap(rec)
			receivedAt, err := strconv.ParseInt(h["reftrail-received-at"], 10, 64)
			if err != nil || receivedAt < before || receivedAt > after {
				t.Errorf("reftrail-received-at = %q, want Unix ms within [%d, %d]", h["reftrail-received-at"], before, after)
			}
			wantHeaders := map[string]string{
				"reftrail-received-at": h["reftrail-received-at"],
				"reftrail-request-id":  header.Get("X-Request-Id"),
				"content-type":         "application/json",
				"x-hub-signature-256":  tt.header[meta.SignatureHeader],
			}
			if diff := cmp.Diff(wantHeaders, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
	// Rejected bodies were posted in between accepted ones: the topic holds
	// the accepted ones only.
	if got := countRaw(t, brokers); got != int64(len(accepted)) {
		t.Errorf("raw topic holds %d records, want %d (only the verified ones)", got, len(accepted))
	}
	metrics := testenv.Scrape(t, in.admin)
	for _, want := range []string{
		`reftrail_ingest_requests_total{outcome="accepted"} 6`,
		`reftrail_ingest_requests_total{outcome="unauthorized"} 5`,
		`reftrail_ingest_ack_seconds_count 6`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestRejectsWithoutProducing(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	in := startIngest(t, brokers, map[string]string{"MAX_BODY_BYTES": "2048"})
	large := []byte(`{"object":"page","entry":[{"id":"1","pad":"` + strings.Repeat("x", 2048) + `"}]}`)
	t.Run("body over MAX_BODY_BYTES", func(t *testing.T) {
		if status, _ := post(t, in.url, large, signed(large)); status != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", status)
		}
	})
	t.Run("chunked body over MAX_BODY_BYTES", func(t *testing.T) {
		// No Content-Length: the limit must hold while reading too.
		req, _ := http.NewRequest(http.MethodPost, in.url+"/webhook", io.MultiReader(bytes.NewReader(large)))
		req.Header.Set(meta.SignatureHeader, meta.Sign(testSecret, large))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want 413", resp.StatusCode)
		}
	})
	for _, tt := range []struct {
		name, method, path string
		want               int
	}{
		{name: "PUT webhook", method: http.MethodPut, path: "/webhook", want: 405},
		{name: "DELETE webhook", method: http.MethodDelete, path: "/webhook", want: 405},
		{name: "POST healthz", method: http.MethodPost, path: "/healthz", want: 405},
		{name: "unknown path", method: http.MethodPost, path: "/webhooks", want: 404},
		{name: "root", method: http.MethodGet, path: "/", want: 404},
		{name: "readyz stays off the public port", method: http.MethodGet, path: "/readyz", want: 404},
		{name: "metrics stay off the public port", method: http.MethodGet, path: "/metrics", want: 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, in.url+tt.path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
	if got := countRaw(t, brokers); got != 0 {
		t.Errorf("raw topic holds %d records, want 0", got)
	}
}

// TestUnauthorizedLogsWhy checks that each 401 leaves a debug line saying why,
// and that the signature header's value never reaches the log.
func TestUnauthorizedLogsWhy(t *testing.T) {
	logs := &syncBuffer{}
	in := launchIngest(t, kafkatest.Brokers(t), map[string]string{"LOG_LEVEL": "debug"}, logs)
	testenv.WaitReadyz(t, in.admin, http.StatusOK, 20*time.Second)
	body := []byte(`{"object":"page","entry":[]}`)
	wrong := meta.Sign("not-a-configured-secret", body)
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{name: "no header", want: `"reason":"signature missing"`},
		{name: "sha1 header", header: map[string]string{meta.SignatureHeader: "sha1=0123456789abcdef0123456789abcdef01234567"}, want: `"reason":"signature malformed"`},
		{name: "unknown secret", header: map[string]string{meta.SignatureHeader: wrong}, want: `"reason":"no app secret matched"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h := post(t, in.url, body, tt.header)
			if status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", status)
			}
			id := h.Get("X-Request-Id")
			var line string
			for l := range strings.SplitSeq(logs.String(), "\n") {
				if strings.Contains(l, id) {
					line = l
				}
			}
			if !strings.Contains(line, `"level":"DEBUG"`) || !strings.Contains(line, tt.want) {
				t.Errorf("log line of request %s = %q, want a DEBUG line with %s", id, line, tt.want)
			}
		})
	}
	for _, secretish := range []string{"0123456789abcdef0123456789abcdef01234567", strings.TrimPrefix(wrong, "sha256=")} {
		if strings.Contains(logs.String(), secretish) {
			t.Errorf("the log holds a signature header's value %s:\n%s", secretish, logs.String())
		}
	}
}

// TestConcurrentPostsProduceEachBodyUnchanged posts distinct bodies from
// many clients at once: each must be in the raw topic byte for byte, once.
// Body buffers are reused once Kafka acknowledged their record; reused any
// earlier, one request's body would overwrite another's record.
func TestConcurrentPostsProduceEachBodyUnchanged(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	in := startIngest(t, brokers, nil)
	const clients, perClient = 32, 40
	bodyOf := func(c, i int) string {
		return fmt.Sprintf(`{"object":"instagram","entry":[{"id":"1784140000%05d","messaging":[]}],"n":%d}`, c, c*perClient+i)
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				body := []byte(bodyOf(c, i))
				status, _, err := postSigned(http.DefaultClient, in.url, body)
				if err != nil || status != 200 {
					t.Errorf("POST %s = %d, %v; want 200", body, status, err)
				}
			}
		})
	}
	wg.Wait()
	got := make(map[string]int)
	for _, r := range readRaw(t, brokers, clients*perClient) {
		got[string(r.Value)]++
	}
	for c := range clients {
		for i := range perClient {
			body := bodyOf(c, i)
			if got[body] != 1 {
				t.Errorf("raw topic holds %d copies of %s, want 1", got[body], body)
			}
		}
	}
}

func TestKafkaDownAnswers503ThenRecovers(t *testing.T) {
	dataDir := t.TempDir()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	brokers := cluster.ListenAddrs()
	_, port, _ := strings.Cut(brokers[0], "127.0.0.1:")
	produceTimeout := time.Second
	in := startIngest(t, brokers, map[string]string{"PRODUCE_TIMEOUT": produceTimeout.String()})

	before := []byte(`{"object":"page","entry":[{"id":"106000000000001","messaging":[]}],"n":"before"}`)
	if status, _ := post(t, in.url, before, signed(before)); status != 200 {
		t.Fatalf("status before outage = %d, want 200", status)
	}

	cluster.Close()
	during := []byte(`{"object":"page","entry":[{"id":"106000000000001","messaging":[]}],"n":"during"}`)
	start := time.Now()
	status, header := post(t, in.url, during, signed(during))
	elapsed := time.Since(start)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status during outage = %d, want 503", status)
	}
	if header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// The answer must reach Meta before its 5 s deadline whatever Kafka
	// does, and not give up on Kafka before PRODUCE_TIMEOUT.
	if elapsed < produceTimeout {
		t.Errorf("503 after %s, before PRODUCE_TIMEOUT (%s)", elapsed, produceTimeout)
	}
	if elapsed >= metaAnswerDeadline {
		t.Errorf("503 took %s, Meta gives up at %s", elapsed, metaAnswerDeadline)
	}
	resp, err := http.Get(in.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during outage = %d, want 503", resp.StatusCode)
	}

	p, _ := strconv.Atoi(port)
	restarted, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir), kfake.Ports(p))
	if err != nil {
		t.Fatalf("restarting kfake on port %d: %v", p, err)
	}
	t.Cleanup(restarted.Close)
	testenv.WaitReadyz(t, in.admin, http.StatusOK, 20*time.Second)
	after := []byte(`{"object":"page","entry":[{"id":"106000000000001","messaging":[]}],"n":"after"}`)
	// The producer's reconnect and retry backoffs may still answer 503 for a
	// few seconds; Meta redelivers, and so does this loop, until 200.
	for attempt := 1; ; attempt++ {
		status, _ := post(t, in.url, after, signed(after))
		if status == 200 {
			break
		}
		if status != http.StatusServiceUnavailable || attempt == 30 {
			t.Fatalf("status after recovery, attempt %d = %d, want 200 (or 503 while recovering)", attempt, status)
		}
	}
	var got []string
	for _, r := range readRaw(t, brokers, 2) {
		got = append(got, string(r.Value))
	}
	// The record answered 503 may land later as a duplicate; both acknowledged
	// ones must be there.
	for _, want := range [][]byte{before, after} {
		found := false
		for _, g := range got {
			found = found || g == string(want)
		}
		if !found {
			t.Errorf("raw topic lacks %s; holds %q", want, got)
		}
	}
}

func TestShutdownAnswersInFlightRequests(t *testing.T) {
	cluster := kafkatest.NewFake(t)
	in := startIngest(t, cluster.ListenAddrs(), nil)

	// Hold the next produce request at the broker until shutdown has begun.
	inFlight := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() { close(inFlight) })
		<-release
		return nil, nil, false
	})

	body := []byte(`{"object":"page","entry":[{"id":"106000000000001","messaging":[]}]}`)
	statusc := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, in.url+"/webhook", bytes.NewReader(body))
		req.Header.Set(meta.SignatureHeader, meta.Sign(testSecret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			statusc <- -1
			return
		}
		resp.Body.Close()
		statusc <- resp.StatusCode
	}()
	<-inFlight
	in.stop()
	time.Sleep(100 * time.Millisecond) // let Shutdown close the listener first
	close(release)
	if got := <-statusc; got != 200 {
		t.Errorf("in-flight request answered %d during shutdown, want 200", got)
	}
	select {
	case err := <-in.done:
		if err != nil {
			t.Errorf("run = %v, want nil", err)
		}
		in.done <- nil // for the cleanup's check
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
}

// TestRunStopsWhenMetricsPortTaken: a METRICS_ADDR that cannot be listened on
// stops ingest with an error naming it, spool forwarder included.
func TestRunStopsWhenMetricsPortTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := map[string]string{
		"KAFKA_BROKERS": testenv.FreeAddr(t), "INGEST_ADDR": testenv.FreeAddr(t), "METRICS_ADDR": taken.Addr().String(),
		"META_APP_SECRETS": testSecret, "META_VERIFY_TOKEN": testVerifyToken, "SPOOL_DIR": t.TempDir(),
	}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "listening on "+taken.Addr().String()) {
			t.Errorf("run = %v, want an error listening on %s", err, taken.Addr())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run kept going with its METRICS_ADDR taken")
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "no secrets", env: map[string]string{"META_VERIFY_TOKEN": "t"}, want: "setting META_APP_SECRETS: required but not set"},
		{name: "secrets only commas and spaces", env: map[string]string{"META_APP_SECRETS": " , ", "META_VERIFY_TOKEN": "t"}, want: `setting META_APP_SECRETS=" , ": holds no secret: a comma-separated list of App Secrets`},
		{name: "no verify token", env: map[string]string{"META_APP_SECRETS": "s"}, want: "setting META_VERIFY_TOKEN: required but not set"},
		{name: "produce timeout past Meta's deadline", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "PRODUCE_TIMEOUT": "6s"}, want: `setting PRODUCE_TIMEOUT="6s": must be between 10ms and 4.5s`},
		{name: "body limit not a number", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "MAX_BODY_BYTES": "4MB"}, want: `setting MAX_BODY_BYTES="4MB": not an integer`},
		{name: "sasl without user", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "KAFKA_SASL_MECHANISM": "PLAIN"}, want: `setting KAFKA_SASL_MECHANISM="PLAIN": needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`},
		{name: "spool smaller than two of the largest records", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "SPOOL_DIR": "/tmp/x", "SPOOL_MAX_BYTES": "2097152"},
			want: `setting SPOOL_MAX_BYTES="2097152": must hold at least two of the largest records, 2 × (MAX_BODY_BYTES + 65536) = 8519680`},
		{name: "metrics on the public port", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "INGEST_ADDR": ":8080", "METRICS_ADDR": ":8080"},
			want: `setting METRICS_ADDR=":8080": must differ from INGEST_ADDR: /metrics and /readyz stay off the public port`},
		{name: "public URL without scheme", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "INGEST_PUBLIC_URL": "hooks.example.com"}, want: `setting INGEST_PUBLIC_URL="hooks.example.com": must be an http:// or https:// URL without query, e.g. https://hooks.example.com`},
		{name: "deletion topic is the raw topic", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "INGEST_PUBLIC_URL": "https://h.example", "DELETION_TOPIC": "meta.webhooks.raw"}, want: `setting DELETION_TOPIC="meta.webhooks.raw": must differ from RAW_TOPIC`},
		{name: "unknown log level", env: map[string]string{"META_APP_SECRETS": "s", "META_VERIFY_TOKEN": "t", "LOG_LEVEL": "chatty"}, want: `setting LOG_LEVEL="chatty": must be one of debug, info, warn, error`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), nil, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if err == nil || err.Error() != tt.want {
				t.Errorf("run = %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
		})
	}
}
