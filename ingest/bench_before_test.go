package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// BenchmarkIngestVsBefore loads this tree's ingest side by side with another
// build of it, INGEST_BENCH_BEFORE (the path of an ingest binary, say one
// built at an earlier commit), to tell what a change did to its speed and
// latency. Both run as child processes on the same kfake; in each of b.N
// rounds two wrk processes load them at the same moment for 3 s, 32
// connections each, so that a slowdown of the machine hits both alike. It
// reports the median, lowest and highest of the rounds' ratios of requests/s
// (this tree's over the other's), and each one's p50/p99/p99.9 latency as
// medians over the rounds. Every 200 is checked against the records Kafka
// holds. Skipped unless INGEST_BENCH_BEFORE is set:
//
//	git worktree add /tmp/before <commit>
//	(cd /tmp/before && go build -o /tmp/ingest-before ./ingest)
//	INGEST_BENCH_BEFORE=/tmp/ingest-before go test -run '^$' -bench IngestVsBefore -benchtime 8x ./ingest
func BenchmarkIngestVsBefore(b *testing.B) {
	before := os.Getenv("INGEST_BENCH_BEFORE")
	if before == "" {
		b.Skip("INGEST_BENCH_BEFORE names no ingest binary to compare with")
	}
	wrkPath, err := exec.LookPath("wrk")
	if err != nil {
		b.Fatal("wrk is not installed")
	}
	body, err := os.ReadFile("testdata/instagram_referral_batch.json")
	if err != nil {
		b.Fatal(err)
	}
	script := wrkScript(b, body, signed(body))
	current := filepath.Join(b.TempDir(), "ingest")
	if out, err := exec.Command("go", "build", "-o", current, ".").CombinedOutput(); err != nil {
		b.Fatalf("building ingest: %v\n%s", err, out)
	}
	brokers := kafkatest.Brokers(b)
	currentURL, beforeURL := startIngestBinary(b, current, brokers), startIngestBinary(b, before, brokers)
	// A short warm-up: connections, Kafka metadata, the heap's size.
	runWrkBeside(b, wrkPath, script, currentURL, beforeURL, time.Second)

	var currentRuns, beforeRuns []wrkResult
	b.ResetTimer()
	for range b.N {
		c, p := runWrkBeside(b, wrkPath, script, currentURL, beforeURL, wrkDuration)
		currentRuns, beforeRuns = append(currentRuns, c), append(beforeRuns, p)
	}
	b.StopTimer()

	// Both write to the raw topic; wrk drops the requests still waiting at
	// the end, so it may hold a few more records than there were 200s.
	if got, ok := countRaw(b, brokers), answered(currentRuns)+answered(beforeRuns); got < ok {
		b.Fatalf("raw topic holds %d records after %d answers of 200", got, ok)
	}
	reportRatio(b, "vs_before_side_by_side", currentRuns, beforeRuns)
	reportRuns(b, "ingest", currentRuns)
	reportRuns(b, "before", beforeRuns)
}

// startIngestBinary runs the ingest binary bin on brokers, logging only
// errors, and returns its URL once it is ready.
func startIngestBinary(b *testing.B, bin string, brokers []string) string {
	addr, admin := testenv.FreeAddr(b), testenv.FreeAddr(b)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	for k, v := range testVars(brokers, addr, admin) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting %s: %v", bin, err)
	}
	// Stop exactly the process this benchmark started, by its pid.
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	testenv.WaitReadyz(b, "http://"+admin, http.StatusOK, 20*time.Second)
	return "http://" + addr
}
