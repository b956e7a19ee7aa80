package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// startChild runs notify as a child process of this test binary, its output
// appended to logPath, and returns it once ready.
func startChild(t testing.TB, env map[string]string, logPath string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REFTRAIL_NOTIFY_CHILD=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting notify child: %v", err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	testenv.WaitReadyz(t, "http://"+env["METRICS_ADDR"], http.StatusOK, 30*time.Second)
	return cmd
}

// TestRunSurvivesSIGKILL kills notify mid-stream, while some deliveries wait
// in the retry topics, restarts it, and checks that every referral is
// delivered.
func TestRunSurvivesSIGKILL(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 20, 2000)
	// The first requests fail, so that retries are pending at the kill, and
	// every request takes a little while, so that the kill lands mid-stream.
	ep := newReceiver(t, false, func(n int, _ string) (int, http.Header) {
		time.Sleep(2 * time.Millisecond)
		if n <= 50 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	})
	env := baseEnv(brokers, testenv.FreeAddr(t), ep.srv.URL)
	env["NOTIFY_RETRY_SCHEDULE"] = "500ms"
	logPath := filepath.Join(t.TempDir(), "notify.log")
	produceEvents(t, brokers, events)

	cmd := startChild(t, env, logPath)
	waitCount(t, ep, len(ids)/3, 60*time.Second)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	atKill := len(ep.delivered())
	if atKill == len(ids) {
		t.Fatalf("every referral was delivered before the kill; the test proves nothing")
	}

	// The killed member's partitions come back after its session timeout
	// (45s), as they would in production.
	startChild(t, env, logPath)
	waitDelivered(t, "endpoint", ep, ids, 90*time.Second)
	t.Logf("%d of %d referrals delivered at the kill; %d requests in all", atKill, len(ids), ep.count())
	if t.Failed() {
		log, _ := os.ReadFile(logPath)
		t.Logf("notify's log:\n%s", log)
	}
}
