package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// child is sink running as a separate process, so it can be killed.
type child struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{} // closed once the process has been waited for
}

// startChild runs sink as a child process of the test binary with env.
func startChild(t testing.TB, env map[string]string, logPath string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REFTRAIL_SINK_CHILD=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sink child: %v", err)
	}
	c := &child{cmd: cmd, url: "http://" + env["METRICS_ADDR"], exited: make(chan struct{})}
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

func (c *child) kill(t testing.TB) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing sink: %v", err)
	}
	<-c.exited
}

// newAdmin returns an admin client of brokers, closed at the end of the test.
func newAdmin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// committed returns the sink group's committed offsets on the events topic,
// summed over partitions (each is the count of records below it).
func committed(t testing.TB, adm *kadm.Client) int64 {
	t.Helper()
	resp, err := adm.FetchOffsets(context.Background(), groupID)
	if err != nil {
		t.Fatalf("fetching committed offsets: %v", err)
	}
	var sum int64
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == eventsTopic && o.Err == nil && o.At > 0 {
			sum += o.At
		}
	})
	return sum
}

// TestIntegrationSinkKilledBetweenInsertAndCommit kills sink with SIGKILL
// after ClickHouse accepted batches whose offsets were not committed (the
// broker refuses the commits), then mid-stream, and checks that after a
// restart every event counts exactly once.
func TestIntegrationSinkKilledBetweenInsertAndCommit(t *testing.T) {
	srv := chtest.Start(t)
	db := srv.NewDatabase(t)
	cluster := kafkatest.NewFake(t, kfake.SeedTopics(partitions, eventsTopic, dlqTopic))
	brokers := cluster.ListenAddrs()
	const n = 20000
	produce(t, brokers, eventRecords(t, testEvents("k", n)))

	var refuseCommits atomic.Bool
	refuseCommits.Store(true)
	cluster.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if !refuseCommits.Load() {
			return nil, nil, false
		}
		commit := req.(*kmsg.OffsetCommitRequest)
		resp := commit.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range commit.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.OffsetMetadataTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	adm := newAdmin(t, brokers)
	conn := srv.Conn(t, "")
	rows := func() uint64 { return count(t, conn, "SELECT count() FROM "+db+".events") }
	logPath := filepath.Join(t.TempDir(), "sink.log")
	env := func() map[string]string {
		e := sinkEnv(brokers, srv, db, testenv.FreeAddr(t))
		e["BATCH_ROWS"], e["FLUSH_INTERVAL"] = "2000", "50ms"
		// Static membership: each new process takes the partitions of the
		// killed one at once, instead of after its session timeout.
		e["SINK_INSTANCE_ID"] = "sink-kill-test"
		return e
	}

	// 1. Rows written, offsets not committed, killed.
	first := startChild(t, env(), logPath)
	testenv.WaitReadyz(t, first.url, http.StatusOK, 60*time.Second)
	waitFor(t, 60*time.Second, "6000 rows written with commits refused", func() bool { return rows() >= 6000 })
	first.kill(t)
	if c := committed(t, adm); c != 0 {
		t.Fatalf("committed offsets sum to %d while the broker refused commits, want 0", c)
	}
	t.Logf("killed with %d rows written and none committed", rows())

	// 2. Killed mid-stream with commits working.
	refuseCommits.Store(false)
	second := startChild(t, env(), logPath)
	waitFor(t, 60*time.Second, "commits to advance", func() bool { return committed(t, adm) >= 4000 })
	second.kill(t)
	atKill := committed(t, adm)
	if atKill >= n {
		t.Fatalf("committed %d of %d at the second kill; want it mid-stream", atKill, n)
	}
	t.Logf("killed again with %d of %d committed", atKill, n)

	// 3. Runs to the end.
	startChild(t, env(), logPath)
	waitFor(t, 60*time.Second, "every offset committed", func() bool { return committed(t, adm) == n })
	if got, want := readCounts(t, conn, db), wantCounts(n); got != want {
		log, _ := os.ReadFile(logPath)
		t.Errorf("counts = %+v, want %+v\nsink log tail:\n%s", got, want, tail(log, 4000))
	}
	// Not asserted: background merges collapse the copies at any time.
	t.Logf("events holds %d rows for %d distinct events", rows(), n)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
