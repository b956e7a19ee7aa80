package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/httpserver"
	"github.com/reftrail/reftrail/internal/meta"
)

// benchConcurrency is how many POSTs are in flight at once, as when Meta
// delivers to a busy app.
const benchConcurrency = 64

// wrkDuration is how long wrk loads each server in each round.
const wrkDuration = 3 * time.Second

// The minimal, control and contract handlers produce to topics of their own
// on the same Kafka as ingest, each through a client of its own, so that
// two of them loaded at once never share a batch; the Connect stand-ins
// produce to topics named after them.
const (
	minimalTopic  = "bench.minimal"
	controlTopic  = "bench.control"
	contractTopic = "bench.contract"
)

// BenchmarkIngestVsBareHTTP loads seven servers with wrk, a separate process
// (64 connections, the signed 1.1 KB webhook), one after another in each of
// b.N rounds, in an order shuffled every round:
//
//   - bare: net/http reading the body and answering 200, the ceiling of any
//     HTTP service on this machine;
//   - minimal: the minimal durable handler, reading the body and answering
//     200 after franz-go acknowledged it on the same Kafka (kfake), the limit
//     of a 200 that means "in Kafka";
//   - contract: the minimal handler doing what the design asks of ingest
//     and nothing else: on ingest's hardened http.Server, it answers an
//     X-Request-Id, checks the HMAC and produces the record keyed by the
//     account with its four headers (ingest's newRawRecord);
//   - ingest;
//   - control: the minimal handler again, on a server of its own, whose
//     ratio to the minimal handler (ideally 1) shows how finely the machine
//     tells two servers apart;
//   - connect: Redpanda Connect's engine set up as a generic connector
//     (internal/dev/connectbench, a child process) with kafka_franz's
//     default of 10 batches in flight, as Redpanda Connect runs unless told
//     otherwise;
//   - connect_tuned: the same with 64 in flight, the load's concurrency.
//
// It reports each one's requests/s, CPU time per request of this process
// (which runs the servers and kfake, not wrk; for the Connect stand-ins,
// their child's too) and p50/p99/p99.9 latency, as medians over the rounds,
// and the ratios ingest/bare, ingest/minimal, ingest/contract,
// ingest/connect, ingest/connect_tuned, contract/minimal and control/minimal
// (median, min and max of the rounds' ratios). The CPU figures are steadier
// than requests/s on a shared machine.
//
// Runs one after another differ by up to a fifth on this kind of machine,
// even for the same handler, so each round then loads ingest, the control
// and the contract handler side by side with the minimal handler, 32
// connections each, and reports their ratios as *_side_by_side: a slowdown
// of the machine then hits both servers of a pair alike.
//
// Every 200 from ingest and from the stand-ins is checked against the
// records Kafka holds.
func BenchmarkIngestVsBareHTTP(b *testing.B) {
	wrkPath, err := exec.LookPath("wrk")
	if err != nil {
		if os.Getenv("CI") != "" {
			b.Fatal("wrk is not installed")
		}
		b.Skip("wrk is not installed; it generates the load from its own process")
	}
	body, err := os.ReadFile("testdata/instagram_referral_batch.json")
	if err != nil {
		b.Fatal(err)
	}
	script := wrkScript(b, body, signed(body))

	brokers := kafkatest.Brokers(b)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer bare.Close()
	minimal := httptest.NewServer(minimalDurableHandler(b, brokers, minimalTopic))
	defer minimal.Close()
	control := httptest.NewServer(minimalDurableHandler(b, brokers, controlTopic))
	defer control.Close()
	contract := serveContractHandler(b, brokers)
	connectBin := buildConnect(b)
	connect := startConnect(b, connectBin, brokers, "connect", 10)
	connectTuned := startConnect(b, connectBin, brokers, "connect_tuned", benchConcurrency)
	in := startIngest(b, brokers, map[string]string{"LOG_LEVEL": "error"})

	subjects := []struct {
		name, url string
		cpu       func() time.Duration
	}{{name: "bare", url: bare.URL, cpu: processCPU}, {name: "minimal", url: minimal.URL, cpu: processCPU},
		{name: "ingest", url: in.url, cpu: processCPU}, {name: "control", url: control.URL, cpu: processCPU},
		{name: "contract", url: contract, cpu: processCPU},
		{name: connect.name, url: connect.url, cpu: connect.cpu}, {name: connectTuned.name, url: connectTuned.url, cpu: connectTuned.cpu}}
	// A short warm-up: connections, Kafka metadata, the heap's size.
	for _, s := range subjects {
		runWrk(b, wrkPath, script, s.url, s.cpu, time.Second)
	}
	runs := map[string][]wrkResult{}
	load := loadAverage()

	// The order is shuffled every round, so that no server always follows
	// the same one.
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		for _, i := range rng.Perm(len(subjects)) {
			s := subjects[i]
			runs[s.name] = append(runs[s.name], runWrk(b, wrkPath, script, s.url, s.cpu, wrkDuration))
		}
		// Side-by-side runs are kept as "<name>_beside", and the minimal
		// handler's beside it as "minimal_beside_<name>".
		for _, p := range []struct{ name, url string }{{"ingest", in.url}, {"control", control.URL}, {"contract", contract}} {
			of, base := runWrkBeside(b, wrkPath, script, p.url, minimal.URL, wrkDuration)
			runs[p.name+"_beside"] = append(runs[p.name+"_beside"], of)
			runs["minimal_beside_"+p.name] = append(runs["minimal_beside_"+p.name], base)
		}
	}
	b.StopTimer()
	load = max(load, loadAverage())

	// wrk drops the connections still waiting at the end, so Kafka may hold
	// a few records more than there were 200s, never fewer.
	if got, ok := countRaw(b, brokers), answered(runs["ingest"])+answered(runs["ingest_beside"]); got < ok {
		b.Fatalf("raw topic holds %d records after %d answers of 200", got, ok)
	}
	for _, c := range []connectStandIn{connect, connectTuned} {
		if got, ok := countRecords(b, brokers, c.topic), answered(runs[c.name]); got < ok {
			b.Fatalf("%s holds %d records after %d answers of 200 from %s", c.topic, got, ok, c.name)
		}
	}
	for _, s := range subjects {
		reportRuns(b, s.name, runs[s.name])
		b.ReportMetric(median(runs[s.name], func(r wrkResult) float64 { return r.cpuPerReq }), s.name+"_cpu_us/req")
	}
	for _, r := range []struct{ name, of, base string }{
		{"vs_bare", "ingest", "bare"}, {"vs_minimal", "ingest", "minimal"}, {"vs_contract", "ingest", "contract"},
		{"vs_connect", "ingest", connect.name}, {"vs_connect_tuned", "ingest", connectTuned.name},
		{"contract_vs_minimal", "contract", "minimal"}, {"control_vs_minimal", "control", "minimal"},
		{"vs_minimal_side_by_side", "ingest_beside", "minimal_beside_ingest"},
		{"contract_vs_minimal_side_by_side", "contract_beside", "minimal_beside_contract"},
		{"control_vs_minimal_side_by_side", "control_beside", "minimal_beside_control"}} {
		reportRatio(b, r.name, runs[r.of], runs[r.base])
	}
	b.ReportMetric(load, "load_avg")
}

// reportRuns reports the median requests/s and p50/p99/p99.9 latency of
// name's runs.
func reportRuns(b *testing.B, name string, runs []wrkResult) {
	b.ReportMetric(median(runs, func(r wrkResult) float64 { return r.rate }), name+"_req/s")
	b.ReportMetric(median(runs, func(r wrkResult) float64 { return r.p50 }), name+"_p50_ms")
	b.ReportMetric(median(runs, func(r wrkResult) float64 { return r.p99 }), name+"_p99_ms")
	b.ReportMetric(median(runs, func(r wrkResult) float64 { return r.p999 }), name+"_p99.9_ms")
}

// reportRatio reports as name the median, and as name_min and name_max the
// lowest and highest, of the rounds' ratios of requests/s, of[i] over base[i].
func reportRatio(b *testing.B, name string, of, base []wrkResult) {
	ratios := make([]float64, len(of))
	for i := range of {
		ratios[i] = of[i].rate / base[i].rate
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], name)
	b.ReportMetric(ratios[0], name+"_min")
	b.ReportMetric(ratios[len(ratios)-1], name+"_max")
}

// minimalDurableHandler reads the body and answers 200 once Kafka
// acknowledged it, produced with franz-go's defaults except the linger: at
// its 10 ms default a synchronous produce waits out the linger on every
// request, which ingest does not (it sets 0), and the baseline would be slow
// for a reason that has nothing to do with the work.
func minimalDurableHandler(b *testing.B, brokers []string, topic string) http.Handler {
	cl := benchProducer(b, brokers, topic)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := cl.ProduceSync(r.Context(), &kgo.Record{Value: body}).FirstErr(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "EVENT_RECEIVED")
	})
}

// benchProducer creates topic (3 partitions) and returns a client producing
// to it by default, with franz-go's defaults but no linger, as ingest.
func benchProducer(b *testing.B, brokers []string, topic string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	createBenchTopic(b, cl, topic)
	return cl
}

// createBenchTopic creates topic with 3 partitions through cl.
func createBenchTopic(b *testing.B, cl *kgo.Client, topic string) {
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
		b.Fatalf("creating %s: %v", topic, err)
	}
}

// buildConnect builds internal/dev/connectbench: Redpanda Connect's engine
// with an http_server input and a Kafka output, answering each POST once
// Kafka acknowledged it.
func buildConnect(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "connectbench")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("..", "internal", "dev", "connectbench")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building connectbench: %v\n%s", err, out)
	}
	return bin
}

// connectStandIn is a connectbench process producing to topic.
type connectStandIn struct {
	name, url, topic string
	// cpu is the CPU time of this process and the child together.
	cpu func() time.Duration
}

// startConnect runs bin with maxInFlight batches in flight, producing to a
// topic of its own.
func startConnect(b *testing.B, bin string, brokers []string, name string, maxInFlight int) connectStandIn {
	topic := "bench." + name
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	createBenchTopic(b, admin, topic)
	admin.Close()
	addr := testenv.FreeAddr(b)
	cmd := exec.Command(bin, "-addr", addr, "-brokers", strings.Join(brokers, ","), "-topic", topic,
		"-max-in-flight", strconv.Itoa(maxInFlight))
	logPath := filepath.Join(b.TempDir(), name+".log")
	logs, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		b.Fatalf("starting connectbench: %v", err)
	}
	// Stop exactly the process this benchmark started, by its pid.
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			b.Fatalf("connectbench did not listen on %s within 30s:\n%s", addr, out)
		}
	}
	pid := cmd.Process.Pid
	return connectStandIn{name: name, url: "http://" + addr, topic: topic,
		cpu: func() time.Duration { return processCPU() + childCPU(b, pid) }}
}

// serveContractHandler serves, on ingest's hardened http.Server, the minimal
// durable handler with what the design asks of ingest added: an X-Request-Id
// on the answer, the HMAC checked against the app secrets, and the record
// keyed by the account with its four headers. It returns the server's URL.
func serveContractHandler(b *testing.B, brokers []string) string {
	cl := benchProducer(b, brokers, contractTopic)
	verifier := meta.NewVerifier([]string{testSecret, testSecondAppSecret})
	ids := newRequestIDs()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := ids.next()
		w.Header().Set("X-Request-Id", id)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		signature := r.Header.Get(meta.SignatureHeader)
		if err := verifier.Verify(signature, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rec := newRawRecord(contractTopic, body, time.Now(), id, r.Header.Get("Content-Type"), signature)
		if err := cl.ProduceSync(r.Context(), rec).FirstErr(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "EVENT_RECEIVED")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httpserver.New(handler, slog.New(slog.DiscardHandler))
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// wrkScript writes the Lua script that makes wrk POST body, signed, and
// print its summary on one line for runWrk.
func wrkScript(b *testing.B, body []byte, header map[string]string) string {
	var s strings.Builder
	s.WriteString("wrk.method = \"POST\"\n")
	s.WriteString("wrk.headers[\"Content-Type\"] = \"application/json\"\n")
	for k, v := range header {
		fmt.Fprintf(&s, "wrk.headers[%q] = %q\n", k, v)
	}
	if bytes.Contains(body, []byte("]==]")) {
		b.Fatal("the body cannot be quoted as a Lua long string")
	}
	fmt.Fprintf(&s, "wrk.body = [==[%s]==]\n", body)
	s.WriteString(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
`)
	path := filepath.Join(b.TempDir(), "webhook.lua")
	if err := os.WriteFile(path, []byte(s.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

type wrkResult struct {
	requests       int64
	rate           float64 // requests/s
	cpuPerReq      float64 // µs of this process's CPU per request
	p50, p99, p999 float64 // ms
}

// runWrk loads url's /webhook for d and fails the benchmark on any error or
// answer other than 2xx. cpu tells the CPU time the server has used.
func runWrk(b *testing.B, wrkPath, script, url string, cpu func() time.Duration, d time.Duration) wrkResult {
	cpu0 := cpu()
	out, err := wrkCommand(wrkPath, script, url, 2, benchConcurrency, d).CombinedOutput()
	used := cpu() - cpu0
	r := parseWrk(b, url, out, err)
	r.cpuPerReq = float64(used.Microseconds()) / float64(r.requests)
	return r
}

// runWrkBeside loads two servers at the same moment for d, each with one wrk
// thread and half the connections: whatever slows the machine down then
// slows both, and the ratio of their rates is steadier than that of two runs
// one after the other. It leaves cpuPerReq unset: the servers share this
// process.
func runWrkBeside(b *testing.B, wrkPath, script, url, besideURL string, d time.Duration) (of, beside wrkResult) {
	var besideOut []byte
	var besideErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		besideOut, besideErr = wrkCommand(wrkPath, script, besideURL, 1, benchConcurrency/2, d).CombinedOutput()
	}()
	out, err := wrkCommand(wrkPath, script, url, 1, benchConcurrency/2, d).CombinedOutput()
	<-done
	return parseWrk(b, url, out, err), parseWrk(b, besideURL, besideOut, besideErr)
}

// wrkCommand runs wrkScript against url's /webhook.
func wrkCommand(wrkPath, script, url string, threads, connections int, d time.Duration) *exec.Cmd {
	return exec.Command(wrkPath, fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", connections),
		fmt.Sprintf("-d%ds", int(d.Seconds())), "--timeout", "10s", "-s", script, url+"/webhook")
}

// parseWrk reads the summary line of wrkScript from wrk's output.
func parseWrk(b *testing.B, url string, out []byte, err error) wrkResult {
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	var f [10]int64
	sc := bufio.NewScanner(bytes.NewReader(out))
	found := false
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 11 || fields[0] != "RESULT" {
			continue
		}
		for i := range f {
			if f[i], err = strconv.ParseInt(fields[i+1], 10, 64); err != nil {
				b.Fatalf("wrk's summary %q: %v", sc.Text(), err)
			}
		}
		found = true
	}
	if !found {
		b.Fatalf("wrk printed no summary:\n%s", out)
	}
	if errs := f[2] + f[3] + f[4] + f[5] + f[6]; errs > 0 || f[0] == 0 {
		b.Fatalf("wrk against %s: %d requests, %d errors (connect, read, write, status, timeout: %v)", url, f[0], errs, f[2:7])
	}
	return wrkResult{
		requests: f[0],
		rate:     float64(f[0]) / (float64(f[1]) / 1e6),
		p50:      float64(f[7]) / 1000,
		p99:      float64(f[8]) / 1000,
		p999:     float64(f[9]) / 1000,
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the user and system CPU time process pid has used, from
// /proc/<pid>/stat (clock ticks of 10 ms).
func childCPU(b *testing.B, pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's closing parenthesis start at the
	// third, the state; utime and stime are the 14th and 15th.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("reading %d's CPU time from %q", pid, stat)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// loadAverage is the machine's 1-minute load average, reported so a reader
// knows how shared the cores were.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// answered is how many 200s the runs got: wrk fails the benchmark on any
// other answer.
func answered(runs []wrkResult) int64 {
	var n int64
	for _, r := range runs {
		n += r.requests
	}
	return n
}

func median(runs []wrkResult, value func(wrkResult) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = value(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// hammer sends n POSTs from benchConcurrency goroutines of this process and
// returns requests per second and each request's latency. Any answer but 200
// fails the benchmark. The spool benchmark uses it: it needs an exact count
// of answers, which wrk does not give.
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
