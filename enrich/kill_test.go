package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
)

// streamPayloads returns n raw payloads, each an Instagram referral and a
// message from its own participant (2 events), with every badEvery-th one
// not JSON (a dead letter instead).
func streamPayloads(n, badEvery int) (bodies [][]byte, events, bad int) {
	for i := range n {
		if i%badEvery == badEvery-1 {
			bodies = append(bodies, []byte(fmt.Sprintf(`{"object":"instagram","entry":[{"id":"17841400000000001"`+`%d`, i)))
			bad++
			continue
		}
		ts := 1763700000000 + int64(i)*1000
		bodies = append(bodies, fmt.Appendf(nil, `{"object":"instagram","entry":[{"id":"17841400000000001","time":%[2]d,"messaging":[`+
			`{"sender":{"id":"91%08[1]d"},"recipient":{"id":"17841400000000001"},"timestamp":%[2]d,"referral":{"ref":"stream_%[1]d","source":"SHORTLINKS","type":"OPEN_THREAD"}},`+
			`{"sender":{"id":"91%08[1]d"},"recipient":{"id":"17841400000000001"},"timestamp":%[3]d,"message":{"mid":"mid.stream.%[1]d","text":"hi"}}]}]}`,
			i, ts, ts+500))
		events += 2
	}
	return bodies, events, bad
}

// child is enrich running as a separate process, so it can be killed.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
}

func startChild(t *testing.T, brokers []string, logPath string) *child {
	t.Helper()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REFTRAIL_ENRICH_CHILD=1", "ENRICH_MAX_POLL_RECORDS=10", "ENRICH_TRANSACTIONAL_ID=reftrail-enrich-kill-test")
	for k, v := range baseEnv(brokers, addr) {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting enrich child: %v", err)
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	// Stop exactly the process this test started, by its pid, however the
	// test ends.
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.exited
	})
	return c
}

// TestIntegrationEnrichKilledMidStream kills enrich with SIGKILL while it is
// processing a stream, starts it again, and checks that a read_committed
// reader sees every event exactly once and every dead letter exactly once.
func TestIntegrationEnrichKilledMidStream(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	bodies, wantEvents, wantBad := streamPayloads(3000, 100)
	produceRaw(t, brokers, bodies)
	logPath := filepath.Join(t.TempDir(), "enrich.log")

	first := startChild(t, brokers, logPath)
	waitCommitted(t, brokers, wantEvents/4)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatalf("killing enrich: %v", err)
	}
	<-first.exited
	// The kill must land mid-stream for the test to mean anything.
	atKill := len(readCommitted(t, brokers, eventsTopic, 0, time.Second))
	if atKill == 0 || atKill >= wantEvents {
		t.Fatalf("%d of %d events committed when enrich was killed; want the kill mid-stream", atKill, wantEvents)
	}
	t.Logf("killed enrich with %d of %d events committed", atKill, wantEvents)

	startChild(t, brokers, logPath)
	recs := readCommitted(t, brokers, eventsTopic, wantEvents, 2*time.Second)
	dec, err := eventcodec.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		var e event.Event
		if err := dec.Decode(context.Background(), r.Value, &e); err != nil {
			t.Fatalf("decoding event: %v", err)
		}
		seen[e.EventID]++
	}
	dups := 0
	for id, n := range seen {
		if n > 1 {
			dups++
			if dups <= 5 {
				t.Errorf("event %s seen %d times by a read_committed reader", id, n)
			}
		}
	}
	if len(seen) != wantEvents || len(recs) != wantEvents {
		log, _ := os.ReadFile(logPath)
		t.Errorf("read %d records with %d distinct event ids, want %d of each\nenrich log:\n%s", len(recs), len(seen), wantEvents, tail(log, 4000))
	}
	if got := len(readCommitted(t, brokers, dlqTopic, wantBad, time.Second)); got != wantBad {
		t.Errorf("dead letters = %d, want %d", got, wantBad)
	}
}

// waitCommitted waits until a read_committed reader sees at least n events.
func waitCommitted(t *testing.T, brokers []string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(eventsTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seen := 0
	for seen < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("saw %d committed events in 60s, waiting for %d", seen, n)
		}
		seen += fetches.NumRecords()
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
