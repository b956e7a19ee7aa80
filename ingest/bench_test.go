package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
)

// benchConcurrency is how many POSTs are in flight at once, as when Meta
// delivers to a busy app.
const benchConcurrency = 64

// BenchmarkIngestVsBareHTTP posts b.N signed webhooks to a bare net/http
// handler that only reads the body (the baseline), then b.N to ingest, in the
// same run, and reports both throughputs, their ratio and ingest's ack latency.
// Every 200 from ingest is checked against the records Kafka holds.
func BenchmarkIngestVsBareHTTP(b *testing.B) {
	body, err := os.ReadFile("testdata/instagram_referral_batch.json")
	if err != nil {
		b.Fatal(err)
	}
	header := signed(body)

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer bare.Close()

	brokers := kafkatest.Brokers(b)
	in := startIngest(b, brokers, map[string]string{"LOG_LEVEL": "error"})

	b.ResetTimer()
	baseline, _ := hammer(b, bare.URL+"/webhook", body, header, b.N)
	ingest, latencies := hammer(b, in.url+"/webhook", body, header, b.N)
	b.StopTimer()

	if got := countRaw(b, brokers); got != int64(b.N) {
		b.Fatalf("raw topic holds %d records after %d answers of 200", got, b.N)
	}
	slices.Sort(latencies)
	b.ReportMetric(baseline, "baseline_req/s")
	b.ReportMetric(ingest, "ingest_req/s")
	b.ReportMetric(ingest/baseline, "ratio")
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "ack_p50_ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "ack_p99_ms")
}

// hammer sends n POSTs from benchConcurrency workers and returns requests per
// second and each request's latency. Any answer but 200 fails the benchmark.
func hammer(b *testing.B, url string, body []byte, header map[string]string, n int) (float64, []time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConcurrency}}
	defer client.CloseIdleConnections()
	latencies := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				for k, v := range header {
					req.Header.Set(k, v)
				}
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Errorf("POST %s: %v", url, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("POST %s = %d, want 200", url, resp.StatusCode)
					return
				}
				latencies[i] = time.Since(sent)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return float64(n) / time.Since(start).Seconds(), latencies
}
