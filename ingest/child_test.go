package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestMain removes the ingest binary the child-process tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// ingestBinary builds ingest once per test run, without the race detector
// even under go test -race, so the memory test measures what ships.
func ingestBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "reftrail-ingest-bin-"); buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), "github.com/reftrail/reftrail/ingest").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building ingest: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "ingest")
}

// ingestChild is ingest running as a separate process, built by ingestBinary.
type ingestChild struct {
	cmd      *exec.Cmd
	url      string
	admin    string
	logPath  string
	exited   chan struct{}
	exitCode int
}

func startChildIngest(t *testing.T, brokers []string, env map[string]string) *ingestChild {
	t.Helper()
	addr, adminAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	c := &ingestChild{url: "http://" + addr, admin: "http://" + adminAddr,
		logPath: filepath.Join(t.TempDir(), "ingest.log"), exited: make(chan struct{})}
	c.cmd = exec.Command(ingestBinary(t))
	c.cmd.Env = append(os.Environ(),
		"KAFKA_BROKERS="+strings.Join(brokers, ","), "INGEST_ADDR="+addr, "METRICS_ADDR="+adminAddr,
		"META_APP_SECRETS="+testSecret, "META_VERIFY_TOKEN="+testVerifyToken, "TOPIC_PARTITIONS=3")
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting ingest child: %v", err)
	}
	go func() {
		c.cmd.Wait()
		c.exitCode = c.cmd.ProcessState.ExitCode()
		logFile.Close()
		close(c.exited)
	}()
	// Stop exactly the process this test started, by its pid.
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	return c
}

func (c *ingestChild) logs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
