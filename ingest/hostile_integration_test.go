package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/meta"
)

// wrongSignature is well formed, so it passes the header check, and wrong.
var wrongSignature = "sha256=" + strings.Repeat("ab", 32)

// rawPost sends a POST's headers, then body bytes at the given pace, and
// returns the status line's code, or 0 when the server closed first.
func rawPost(ctx context.Context, addr string, contentLength int, signature string, chunk int, pace time.Duration) int {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	header := fmt.Sprintf("POST /webhook HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", addr, contentLength)
	if signature != "" {
		header += meta.SignatureHeader + ": " + signature + "\r\n"
	}
	if _, err := conn.Write([]byte(header + "\r\n")); err != nil {
		return 0
	}
	status := make(chan int, 1)
	go func() {
		line, err := bufio.NewReader(conn).ReadString('\n')
		code := 0
		if err == nil && len(line) >= 12 {
			code, _ = strconv.Atoi(line[9:12])
		}
		status <- code
	}()
	buf := make([]byte, chunk)
	for sent := 0; sent < contentLength; sent += chunk {
		select {
		case code := <-status:
			return code
		case <-time.After(pace):
		}
		if _, err := conn.Write(buf[:min(chunk, contentLength-sent)]); err != nil {
			break
		}
	}
	return <-status
}

// TestIntegrationUnsignedRefusedBeforeBody: a POST without a well-formed signature is
// answered 401 while its announced body has not been sent at all.
func TestIntegrationUnsignedRefusedBeforeBody(t *testing.T) {
	in := startIngest(t, kafkatest.Brokers(t), nil)
	addr := strings.TrimPrefix(in.url, "http://")
	for _, tt := range []struct{ name, signature string }{
		{name: "no signature"},
		{name: "malformed signature", signature: "sha256=xyz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// A pace longer than the context: the body never starts.
			if got := rawPost(ctx, addr, 4<<20, tt.signature, 1, time.Hour); got != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401 before any body byte", got)
			}
		})
	}
}

// hostileRSSBound is the most memory ingest may use under the hostile load
// below: the two body budgets (80 MiB), the garbage collector's headroom over
// them (GOGC=100 doubles the live heap at worst), and the runtime, franz-go and
// 300 connections' buffers.
const hostileRSSBound = 256 << 20

// TestIntegrationHostileClientsBoundedMemory runs ingest as a child process and sends it,
// for a while, 300 clients that each announce a 4 MiB body with a well-formed
// but wrong signature and send it slowly, reconnecting when cut off, while a
// signed client keeps posting. Every signed POST must be answered 200, and
// ingest's peak resident memory (VmHWM) must stay under hostileRSSBound.
// Unbounded, 300 such bodies take 1.2 GB.
func TestIntegrationHostileClientsBoundedMemory(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		testenv.Unavailable(t, "needs /proc to read the child's peak memory: %v", err)
	}
	brokers := kafkatest.Brokers(t)
	child := startChildIngest(t, brokers, map[string]string{"LOG_LEVEL": "error"})
	testenv.WaitReadyz(t, child.admin, http.StatusOK, 20*time.Second)
	addr := strings.TrimPrefix(child.url, "http://")
	baseline := peakRSS(t, child.cmd.Process.Pid)

	const attackers, attack = 300, 12 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), attack)
	defer cancel()
	var wg sync.WaitGroup
	var answers sync.Map // status -> *atomic.Int64
	for range attackers {
		wg.Go(func() {
			for ctx.Err() == nil {
				// 4 MiB at 64 KiB every 50 ms: 3.2 s if read at once,
				// longer when it must wait for the budget.
				code := rawPost(ctx, addr, 4<<20, wrongSignature, 64<<10, 50*time.Millisecond)
				n, _ := answers.LoadOrStore(code, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
			}
		})
	}

	signedOK, signedTotal := 0, 0
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; ctx.Err() == nil; i++ {
		status, _, err := postSigned(client, child.url, numberedBody("106000000000001", i))
		signedTotal++
		if err == nil && status == 200 {
			signedOK++
		} else {
			t.Errorf("signed POST %d during the attack = %d, %v; want 200", i, status, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	peak := peakRSS(t, child.cmd.Process.Pid)
	cancel()
	wg.Wait()

	var summary []string
	answers.Range(func(k, v any) bool {
		summary = append(summary, fmt.Sprintf("%v×%d", v.(*atomic.Int64).Load(), k))
		return true
	})
	t.Logf("%d hostile clients for %v: answers %v (0: cut off); signed POSTs %d/%d answered 200; ingest peak RSS %d MiB (baseline %d MiB, bound %d MiB)",
		attackers, attack, summary, signedOK, signedTotal, peak>>20, baseline>>20, hostileRSSBound>>20)
	if signedTotal == 0 {
		t.Fatal("no signed POST was sent during the attack")
	}
	if peak > hostileRSSBound {
		t.Errorf("ingest's peak RSS = %d MiB, want under %d MiB", peak>>20, hostileRSSBound>>20)
	}
	m := testenv.Scrape(t, child.admin)
	refused := testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="unauthorized"`) +
		testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="busy"`) +
		testenv.Metric(m, "reftrail_ingest_requests_total", `outcome="slow_body"`)
	if refused == 0 {
		t.Error("no hostile request was refused: the attack did not reach ingest")
	}
}

// peakRSS reads a process's peak resident set size (VmHWM) from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
