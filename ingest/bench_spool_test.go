package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// BenchmarkSpoolVsBareHTTP measures, in one run, b.N signed POSTs to a bare
// net/http handler (the baseline), to ingest without a spool (as before the
// spool existed), to ingest with a spool while Kafka is up (records go to
// Kafka directly), and to ingest with a spool while Kafka is down (every 200
// follows an fsync of the spool), plus the disk's own rate of 4 KiB
// write+fsync. It reports throughputs, their ratios to the baseline and the
// p50/p99 ack latencies. Goals: up_ratio >= 0.5 (and near nospool_ratio),
// down_ratio >= 0.3 with down_p99_ms < 50.
func BenchmarkSpoolVsBareHTTP(b *testing.B) {
	body, err := os.ReadFile("testdata/instagram_referral_batch.json")
	if err != nil {
		b.Fatal(err)
	}
	header := signed(body)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer bare.Close()

	spoolDir := b.TempDir()
	fsyncs := fsyncRate(b, spoolDir)

	brokers := kafkatest.Brokers(b)
	nospool := startIngest(b, brokers, map[string]string{"LOG_LEVEL": "error"})
	up := startIngest(b, brokers, map[string]string{"LOG_LEVEL": "error", "SPOOL_DIR": filepath.Join(spoolDir, "up")})
	down := startIngest(b, []string{testenv.FreeAddr(b)}, map[string]string{"LOG_LEVEL": "error", "SPOOL_DIR": filepath.Join(spoolDir, "down")})

	b.ResetTimer()
	baseline, bareLat := hammer(b, bare.URL+"/webhook", body, header, b.N)
	nospoolRate, nospoolLat := hammer(b, nospool.url+"/webhook", body, header, b.N)
	upRate, upLat := hammer(b, up.url+"/webhook", body, header, b.N)
	downRate, downLat := hammer(b, down.url+"/webhook", body, header, b.N)
	b.StopTimer()

	// Records that came before the raw topic was checked went through the
	// spool; they are in Kafka once it is empty.
	waitMetric(b, up.admin, "reftrail_ingest_spool_records", 0, time.Minute)
	if got := countRaw(b, brokers); got != 2*int64(b.N) {
		b.Fatalf("raw topic holds %d records after %d answers of 200 with Kafka up", got, 2*b.N)
	}
	m := testenv.Scrape(b, down.admin)
	if got := testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="spooled"`); got != float64(b.N) {
		b.Fatalf("%v POSTs answered from the spool with Kafka down, want %d", got, b.N)
	}
	if got := testenv.Metric(m, "reftrail_ingest_spool_records"); got != float64(b.N) {
		b.Fatalf("spool holds %v records after %d answers of 200", got, b.N)
	}
	b.ReportMetric(baseline, "baseline_req/s")
	b.ReportMetric(nospoolRate, "nospool_req/s")
	b.ReportMetric(upRate, "up_req/s")
	b.ReportMetric(downRate, "down_req/s")
	b.ReportMetric(nospoolRate/baseline, "nospool_ratio")
	b.ReportMetric(upRate/baseline, "up_ratio")
	b.ReportMetric(downRate/baseline, "down_ratio")
	b.ReportMetric(fsyncs, "disk_fsync/s")
	for _, l := range []struct {
		name string
		lat  []time.Duration
	}{{"bare", bareLat}, {"nospool", nospoolLat}, {"up", upLat}, {"down", downLat}} {
		slices.Sort(l.lat)
		b.ReportMetric(float64(l.lat[len(l.lat)/2].Microseconds())/1000, l.name+"_p50_ms")
		b.ReportMetric(float64(l.lat[len(l.lat)*99/100].Microseconds())/1000, l.name+"_p99_ms")
	}
}

// fsyncRate returns how many 4 KiB appends, each followed by fsync, the disk
// under dir takes per second on its own: the ceiling of one commit per POST,
// which group commit lifts.
func fsyncRate(b *testing.B, dir string) float64 {
	f, err := os.CreateTemp(dir, "fsync-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	start := time.Now()
	n := 0
	for ; time.Since(start) < time.Second; n++ {
		if _, err := f.Write(block); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}
