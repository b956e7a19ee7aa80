package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
)

// benchEvents returns n referral events with ids bench-0 ... bench-<n-1>.
func benchEvents(n int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		ad := "120210000000" + strconv.Itoa(i%50)
		evs[i] = event.Event{
			EventID: "bench-" + strconv.Itoa(i), Platform: event.Instagram, Kind: event.KindReferral,
			AccountID: "17841400000000001", ParticipantID: "91" + strconv.Itoa(1e8+i),
			EventTime: time.Now().UnixMilli(), ReceivedTime: time.Now().UnixMilli(), Thread: event.ThreadExisting,
			Referral: &event.Referral{Ref: "bench_" + strconv.Itoa(i%20), Source: "ADS", Type: "OPEN_THREAD", AdID: &ad},
		}
	}
	return evs
}

// fastReceiver answers 204 at once and counts distinct bench ids.
type fastReceiver struct {
	seen     []atomic.Bool
	distinct atomic.Int64
}

func (f *fastReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Webhook-Id")
	if i, err := strconv.Atoi(strings.TrimPrefix(id, "bench-")); err == nil && i < len(f.seen) && !f.seen[i].Swap(true) {
		f.distinct.Add(1)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fastReceiver) waitAll(b *testing.B, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for f.distinct.Load() < int64(len(f.seen)) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered after %v", f.distinct.Load(), len(f.seen), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkNotifyDeliveries measures, in the same run, signed POSTs per
// second from a bare loop (endpointConcurrency goroutines, one keep-alive
// client, no Kafka: the HTTP limit of this machine) and deliveries per
// second through notify end to end on an in-process kfake, both to the same
// fast local receiver. Run it with -benchtime 1x.
func BenchmarkNotifyDeliveries(b *testing.B) {
	const n = 20000
	evs := benchEvents(n)
	var bare, endToEnd float64
	for range b.N {
		rcv := &fastReceiver{seen: make([]atomic.Bool, n)}
		srv := httptest.NewServer(rcv)
		client := newHTTPClient(true, 10*time.Second, nil)
		nt := testNotifier(client)
		ep := &endpoint{url: srv.URL}
		post := func(count int) {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range endpointConcurrency {
				wg.Go(func() {
					for i := next.Add(1) - 1; i < int64(count); i = next.Add(1) - 1 {
						if o := nt.attempt(b.Context(), ep, evs[i].EventID, body(&evs[i])); !o.ok {
							b.Errorf("bare POST: %+v", o)
							return
						}
					}
				})
			}
			wg.Wait()
		}
		post(n / 10) // warm up connections and the scheduler
		start := time.Now()
		post(n)
		bare = n / time.Since(start).Seconds()

		rcv = &fastReceiver{seen: make([]atomic.Bool, n)}
		srv.Config.Handler = rcv
		brokers := newBrokers(b)
		produceEvents(b, brokers, evs)
		env := baseEnv(brokers, testenv.FreeAddr(b), srv.URL)
		env["LOG_LEVEL"] = "error"
		start = time.Now()
		startNotify(b, env)
		rcv.waitAll(b, 5*time.Minute)
		endToEnd = n / time.Since(start).Seconds()
		srv.Close()
	}
	b.ReportMetric(n, "deliveries")
	b.ReportMetric(bare, "bare_posts/s")
	b.ReportMetric(endToEnd, "notify_deliveries/s")
	b.ReportMetric(endToEnd/bare, "ratio")
}

// BenchmarkNotifyMemoryEndpointDown runs notify as a child process on a
// burst of 100,000 referral events, twice: with one healthy endpoint (the
// baseline), then with the healthy endpoint and one whose port refuses
// connections. It reports the child's peak resident memory (VmHWM) in each
// run and their ratio: the deliveries waiting for the down endpoint are in
// the retry topics (kfake, in this process), not in notify. Linux only.
// NOTIFY_BENCH_EVENTS changes the burst's size, to see that the peak does not
// follow it.
func BenchmarkNotifyMemoryEndpointDown(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("NOTIFY_BENCH_EVENTS")); err == nil {
		n = v
	}
	evs := benchEvents(n)
	var peaks [2]float64
	for range b.N {
		for run, withDown := range []bool{false, true} {
			rcv := &fastReceiver{seen: make([]atomic.Bool, n)}
			srv := httptest.NewServer(rcv)
			urls := []string{srv.URL}
			if withDown {
				urls = append(urls, "http://"+testenv.FreeAddr(b)+"/down")
			}
			brokers := newBrokers(b)
			produceEvents(b, brokers, evs)
			env := baseEnv(brokers, testenv.FreeAddr(b), urls...)
			env["LOG_LEVEL"] = "error"
			env["NOTIFY_RETRY_SCHEDULE"] = "2s,5m"
			cmd := startChild(b, env, filepath.Join(b.TempDir(), "notify.log"))
			rcv.waitAll(b, 10*time.Minute)
			if withDown {
				// Let the retry loop read and hold its share of the burst.
				waitMetric(b, "http://"+env["METRICS_ADDR"], "reftrail_notify_failed_attempts_total", 1, time.Minute)
				time.Sleep(5 * time.Second)
			}
			peaks[run] = peakRSS(b, cmd.Process.Pid)
			cmd.Process.Kill()
			cmd.Wait()
			srv.Close()
		}
	}
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(peaks[0]/(1<<20), "peak_MiB_all_up")
	b.ReportMetric(peaks[1]/(1<<20), "peak_MiB_one_down")
	b.ReportMetric(peaks[1]/peaks[0], "ratio")
}

func waitMetric(b *testing.B, url, name string, atLeast float64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for testenv.Metric(testenv.Scrape(b, url), name) < atLeast {
		if time.Now().After(deadline) {
			b.Fatalf("%s stayed under %v for %v", name, atLeast, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS reads a process's peak resident set size from /proc.
func peakRSS(b *testing.B, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("reading peak memory needs Linux /proc: %v", err)
	}
	for line := range bytes.SplitSeq(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 64)
			if err != nil {
				b.Fatalf("parsing VmHWM %q: %v", v, err)
			}
			return kb * 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
