package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/meta"
)

// restartableKafka is a kfake cluster on a fixed port that a test can stop
// and start again with the records it held (an outage and its end).
type restartableKafka struct {
	t       *testing.T
	dataDir string
	port    int
	cluster *kfake.Cluster
}

func newRestartableKafka(t *testing.T) *restartableKafka {
	t.Helper()
	k := &restartableKafka{t: t, dataDir: t.TempDir()}
	k.start()
	_, port, _ := strings.Cut(k.cluster.ListenAddrs()[0], "127.0.0.1:")
	k.port, _ = strconv.Atoi(port)
	t.Cleanup(func() {
		if k.cluster != nil {
			k.cluster.Close()
		}
	})
	return k
}

func (k *restartableKafka) brokers() []string {
	return []string{fmt.Sprintf("127.0.0.1:%d", k.port)}
}

func (k *restartableKafka) start() {
	k.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DataDir(k.dataDir)}
	if k.port != 0 {
		opts = append(opts, kfake.Ports(k.port))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		k.t.Fatalf("starting kfake: %v", err)
	}
	k.cluster = c
}

func (k *restartableKafka) stop() {
	k.cluster.Close()
	k.cluster = nil
}

// postSigned posts body signed with the test secret, for goroutines that
// must not call t.Fatal.
func postSigned(client *http.Client, url string, body []byte) (int, http.Header, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/webhook", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(meta.SignatureHeader, meta.Sign(testSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

func numberedBody(account string, n int) []byte {
	return fmt.Appendf(nil, `{"object":"page","entry":[{"id":%q,"messaging":[]}],"n":%d}`, account, n)
}

// readUntil consumes the raw topic from the start until done says the records
// read so far are enough, or fails the test after timeout.
func readUntil(t *testing.T, brokers []string, timeout time.Duration, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(testTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var recs []*kgo.Record
	for !done(recs) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("raw topic still incomplete after %v: read %d records", timeout, len(recs))
		}
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// holdsAll reports whether recs hold every body in want.
func holdsAll(want [][]byte) func([]*kgo.Record) bool {
	return func(recs []*kgo.Record) bool {
		seen := make(map[string]bool, len(recs))
		for _, r := range recs {
			seen[string(r.Value)] = true
		}
		for _, w := range want {
			if !seen[string(w)] {
				return false
			}
		}
		return true
	}
}

// firstOccurrences returns the values of recs in partition order, each once,
// in the order of its first appearance (duplicates are allowed downstream).
func firstOccurrences(recs []*kgo.Record) []string {
	seen := make(map[string]bool)
	var out []string
	for _, r := range recs {
		if !seen[string(r.Value)] {
			seen[string(r.Value)] = true
			out = append(out, string(r.Value))
		}
	}
	return out
}

func waitMetric(t testing.TB, adminURL, name string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got float64
	for time.Now().Before(deadline) {
		if m, err := testenv.TryScrape(adminURL); err == nil {
			if got = testenv.Metric(m, name); got == want {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s = %v after %v, want %v", name, got, timeout, want)
}

func readyzStatus(t *testing.T, adminURL string) int {
	t.Helper()
	resp, err := http.Get(adminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestIntegrationOutageAnsweredFromSpoolThenForwardedInOrder stops Kafka, posts many
// webhooks (all must be answered 200 within PRODUCE_TIMEOUT, from the spool),
// starts Kafka again and checks that the raw topic then holds every one, in
// order, with its headers and reftrail-spooled-at.
func TestIntegrationOutageAnsweredFromSpoolThenForwardedInOrder(t *testing.T) {
	kafka := newRestartableKafka(t)
	const produceTimeout = time.Second
	var logs syncBuffer
	in := launchIngest(t, kafka.brokers(), map[string]string{
		"SPOOL_DIR":       t.TempDir(),
		"PRODUCE_TIMEOUT": produceTimeout.String(),
	}, &logs)
	testenv.WaitReadyz(t, in.admin, http.StatusOK, 20*time.Second)
	client := &http.Client{}

	// Until the raw topic is checked, records are spooled too; post until
	// one is taken by Kafka directly, so the outage starts from that state.
	var before [][]byte
	for i := 0; testenv.Metric(testenv.Scrape(t, in.admin), "reftrail_ingest_requests_total", `outcome="accepted"`) == 0; i++ {
		if i == 100 {
			t.Fatal("no POST taken by Kafka directly before the outage")
		}
		body := numberedBody("106000000000001", i-1000)
		if status, _, err := postSigned(client, in.url, body); err != nil || status != 200 {
			t.Fatalf("POST before the outage = %d, %v; want 200", status, err)
		}
		before = append(before, body)
		time.Sleep(20 * time.Millisecond)
	}
	waitMetric(t, in.admin, "reftrail_ingest_spool_records", 0, 20*time.Second)
	m := testenv.Scrape(t, in.admin)
	spooled0 := testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="spooled"`)
	forwarded0 := testenv.Metric(m, "reftrail_ingest_spool_forwarded_total")
	if spooled0 > 0 {
		for !strings.Contains(logs.String(), "spool drained") {
			time.Sleep(20 * time.Millisecond)
		}
	}
	logStart := len(logs.String())

	kafka.stop()
	const n = 300
	var during [][]byte
	requestIDs := make(map[string]string, n)
	outageStart := time.Now().UnixMilli()
	for i := range n {
		body := numberedBody("106000000000001", i)
		start := time.Now()
		status, header, err := postSigned(client, in.url, body)
		if err != nil || status != 200 {
			t.Fatalf("POST %d during the outage = %d, %v; want 200 from the spool", i, status, err)
		}
		if elapsed := time.Since(start); elapsed > produceTimeout+500*time.Millisecond {
			t.Errorf("POST %d took %v, want within PRODUCE_TIMEOUT (%v)", i, elapsed, produceTimeout)
		}
		during = append(during, body)
		requestIDs[string(body)] = header.Get("X-Request-Id")
	}
	m = testenv.Scrape(t, in.admin)
	if got := testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="spooled"`) - spooled0; got != n {
		t.Errorf("requests answered from the spool during the outage = %v, want %d", got, n)
	}
	if got := testenv.Metric(m, "reftrail_ingest_spool_records"); got != n {
		t.Errorf("reftrail_ingest_spool_records = %v, want %d", got, n)
	}
	if got := testenv.Metric(m, "reftrail_ingest_spool_bytes"); got <= 0 {
		t.Errorf("reftrail_ingest_spool_bytes = %v, want > 0", got)
	}
	if got := testenv.Metric(m, "reftrail_ingest_spool_oldest_age_seconds"); got <= 0 {
		t.Errorf("reftrail_ingest_spool_oldest_age_seconds = %v, want > 0", got)
	}
	if got := readyzStatus(t, in.admin); got != 200 {
		t.Errorf("/readyz during the outage with room in the spool = %d, want 200", got)
	}

	kafka.start()
	waitMetric(t, in.admin, "reftrail_ingest_spool_records", 0, 60*time.Second)
	after := numberedBody("106000000000001", n)
	for attempt := 0; ; attempt++ {
		status, _, err := postSigned(client, in.url, after)
		if err == nil && status == 200 {
			break
		}
		if attempt == 30 {
			t.Fatalf("POST after the outage = %d, %v; want 200", status, err)
		}
	}

	want := append(append(before, during...), after)
	recs := readUntil(t, kafka.brokers(), 30*time.Second, holdsAll(want))
	// One account key: one partition, so one order. The first record of the
	// outage may also land from the producer's buffer (a duplicate).
	var wantOrder []string
	for _, w := range want {
		wantOrder = append(wantOrder, string(w))
	}
	if got := firstOccurrences(recs); !slices.Equal(got, wantOrder) {
		t.Errorf("raw topic order differs from the order answered 200 (%d records read)", len(got))
	}
	spooled := 0
	for _, r := range recs {
		h := headerMap(r)
		at, ok := h["reftrail-spooled-at"]
		id, during := requestIDs[string(r.Value)]
		if !ok || !during {
			continue
		}
		spooled++
		ms, err := strconv.ParseInt(at, 10, 64)
		if err != nil || ms < outageStart {
			t.Errorf("reftrail-spooled-at = %q, want Unix ms after the outage began (%d)", at, outageStart)
		}
		if h["reftrail-request-id"] != id || h["x-hub-signature-256"] == "" || h["reftrail-received-at"] == "" {
			t.Errorf("spooled record headers %v lack the original ones (request id %q)", h, id)
		}
	}
	if spooled < n {
		t.Errorf("%d records of the outage carry reftrail-spooled-at, want all %d", spooled, n)
	}
	m = testenv.Scrape(t, in.admin)
	if got := testenv.Metric(m, "reftrail_ingest_spool_forwarded_total") - forwarded0; got != n {
		t.Errorf("reftrail_ingest_spool_forwarded_total = %v, want %d", got, n)
	}
	for _, want := range []string{"spooling webhooks to disk until kafka takes them", "spool drained; producing to kafka directly again"} {
		if n := strings.Count(logs.String()[logStart:], want); n != 1 {
			t.Errorf("%d log lines %q, want 1 (the outage's start and end)", n, want)
		}
	}
	t.Logf("outage: %d POSTs answered 200 from the spool; all %d in the raw topic in order after Kafka returned (%d records read, duplicates included)", n, n, len(recs))
}

// TestIntegrationReadyWithKafkaDownWhenSpooling starts ingest against a broker address
// nothing listens on: with a spool it is ready and answers 200; without one
// it is not ready.
func TestIntegrationReadyWithKafkaDownWhenSpooling(t *testing.T) {
	nowhere := []string{testenv.FreeAddr(t)}
	withSpool := startIngest(t, nowhere, map[string]string{"SPOOL_DIR": t.TempDir(), "PRODUCE_TIMEOUT": "500ms"})
	body := numberedBody("106000000000001", 1)
	if status, _, err := postSigned(http.DefaultClient, withSpool.url, body); err != nil || status != 200 {
		t.Errorf("POST with Kafka down and a spool = %d, %v; want 200", status, err)
	}

	without := launchIngest(t, nowhere, map[string]string{"PRODUCE_TIMEOUT": "500ms"}, io.Discard)
	testenv.WaitReadyz(t, without.admin, http.StatusServiceUnavailable, 10*time.Second)
	status, header, err := postSigned(http.DefaultClient, without.url, body)
	if err != nil || status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("POST with Kafka down and no spool = %d (Retry-After %q), %v; want 503 with Retry-After", status, header.Get("Retry-After"), err)
	}
}

// TestIntegrationFullSpoolAnswers503 fills a small spool while Kafka is down: every 200
// is a spooled record, then 503 with Retry-After, and /readyz turns 503.
func TestIntegrationFullSpoolAnswers503(t *testing.T) {
	nowhere := []string{testenv.FreeAddr(t)}
	in := startIngest(t, nowhere, map[string]string{
		"SPOOL_DIR":       t.TempDir(),
		"SPOOL_MAX_BYTES": strconv.Itoa(1 << 20),
		"MAX_BODY_BYTES":  strconv.Itoa(64 << 10),
		"PRODUCE_TIMEOUT": "500ms",
	})
	pad := strings.Repeat("x", 60<<10)
	accepted := 0
	for i := 0; ; i++ {
		body := fmt.Appendf(nil, `{"object":"page","entry":[{"id":"106000000000001"}],"n":%d,"pad":%q}`, i, pad)
		status, header, err := postSigned(http.DefaultClient, in.url, body)
		if err != nil {
			t.Fatal(err)
		}
		if status == 200 {
			accepted++
			if accepted > 20 {
				t.Fatal("a 1 MiB spool took more than 20 bodies of 60 KiB")
			}
			continue
		}
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
			t.Fatalf("POST to a full spool = %d (Retry-After %q), want 503 with Retry-After", status, header.Get("Retry-After"))
		}
		break
	}
	m := testenv.Scrape(t, in.admin)
	if got := testenv.Metric(m, "reftrail_ingest_spool_records"); got != float64(accepted) {
		t.Errorf("spool holds %v records after %d answers of 200, want as many", got, accepted)
	}
	if got := testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="spool_full"`); got != 1 {
		t.Errorf(`requests_total{outcome="spool_full"} = %v, want 1`, got)
	}
	if got := readyzStatus(t, in.admin); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a full spool and Kafka down = %d, want 503", got)
	}
}

// TestIntegrationKilledMidOutageLosesNothing runs ingest as a child process with a
// spool while Kafka is down, kills it with SIGKILL while POSTs are in flight,
// leaves a torn record at the end of the spool as a crash mid-write would,
// restarts it on the same directory and Kafka with it, and checks that every
// POST answered 200 reaches the raw topic.
func TestIntegrationKilledMidOutageLosesNothing(t *testing.T) {
	kafka := newRestartableKafka(t)
	brokers := kafka.brokers()
	kafka.stop()
	dir := t.TempDir()
	env := map[string]string{"SPOOL_DIR": dir, "PRODUCE_TIMEOUT": "1s", "LOG_LEVEL": "warn"}
	first := startChildIngest(t, brokers, env)
	testenv.WaitReadyz(t, first.admin, http.StatusOK, 20*time.Second)

	var mu sync.Mutex
	var acked [][]byte
	var wg sync.WaitGroup
	killed := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ; i++ {
				body := numberedBody(fmt.Sprintf("10600000000000%d", w), i)
				status, _, err := postSigned(client, first.url, body)
				if err == nil && status == 200 {
					mu.Lock()
					acked = append(acked, body)
					mu.Unlock()
				}
				select {
				case <-killed:
					return
				default:
				}
			}
		})
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	close(killed)
	wg.Wait()

	// A crash mid-write leaves part of a record at the end of the last segment.
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no spool segment after the kill")
	}
	slices.Sort(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3})
	f.Close()

	kafka.start()
	second := startChildIngest(t, brokers, env)
	testenv.WaitReadyz(t, second.admin, http.StatusOK, 20*time.Second)
	waitMetric(t, second.admin, "reftrail_ingest_spool_records", 0, 60*time.Second)
	readUntil(t, brokers, 30*time.Second, holdsAll(acked))
	if logs := second.logs(t); !strings.Contains(logs, "cut a torn record") {
		t.Errorf("restart did not log the torn record it cut; logs:\n%s", logs)
	}
	t.Logf("SIGKILL mid-outage after %d answers of 200; all %d in the raw topic after the restart", len(acked), len(acked))
}

// TestIntegrationSecondProcessRefusedSameSpoolDir: one directory belongs to one ingest.
func TestIntegrationSecondProcessRefusedSameSpoolDir(t *testing.T) {
	dir := t.TempDir()
	nowhere := []string{testenv.FreeAddr(t)}
	startIngest(t, nowhere, map[string]string{"SPOOL_DIR": dir})
	second := startChildIngest(t, nowhere, map[string]string{"SPOOL_DIR": dir})
	select {
	case <-second.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("a second ingest on the same SPOOL_DIR kept running")
	}
	if second.exitCode == 0 {
		t.Error("second ingest exited 0, want a failure")
	}
	if logs := second.logs(t); !strings.Contains(logs, "in use by another process") {
		t.Errorf("second ingest's output does not say the directory is in use:\n%s", logs)
	}
}

// syncBuffer is a bytes.Buffer that ingest's logger and the test may use at
// once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestIntegrationRawTopicTooSmallIsNotReady: a raw topic whose max.message.bytes cannot
// take MAX_BODY_BYTES keeps ingest not ready, with one log line saying why.
func TestIntegrationRawTopicTooSmallIsNotReady(t *testing.T) {
	brokers := kafkatest.NewFake(t).ListenAddrs()
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	oneMB := "1048576"
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 1, 1, map[string]*string{"max.message.bytes": &oneMB}, testTopic); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	in := launchIngest(t, brokers, nil, &logs)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "max.message.bytes=1048576") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the raw topic's max.message.bytes; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := readyzStatus(t, in.admin); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a raw topic too small = %d, want 503", got)
	}
	if n := strings.Count(logs.String(), "max.message.bytes="); n != 1 {
		t.Errorf("%d log lines about max.message.bytes, want 1", n)
	}
}
