//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/childproc"
	"github.com/reftrail/reftrail/internal/dev/chlocal"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// roleVar makes the test binary act as devstack, or, when started as
// bin/ingest, bin/enrich, bin/sink or bin/console, as a service that only answers /readyz:
// what devstack does with its children is under test, not the services.
const roleVar = "DEVSTACK_TEST_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleVar) != "" {
		switch filepath.Base(os.Args[0]) {
		case "ingest", "enrich", "sink", "console":
			fakeService()
		default:
			main()
		}
		return
	}
	os.Exit(m.Run())
}

// fakeService answers /readyz on the address devstack gave it until a
// signal ends it.
func fakeService() {
	addr := os.Getenv("METRICS_ADDR")
	http.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, nil))
	os.Exit(1)
}

// TestIntegrationStopsEverything runs devstack as a child process with a real
// ClickHouse, ends it by SIGHUP (a closed terminal) or SIGKILL, and checks
// that no process it reported (ClickHouse, the services) is left running.
func TestIntegrationStopsEverything(t *testing.T) {
	if _, err := chlocal.FindBinary(); err != nil {
		testenv.Unavailable(t, "no ClickHouse binary: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sig  syscall.Signal
		// closeStdout closes the reader of devstack's stdout first, as tee
		// ending on Ctrl-C does in `make run | tee log`.
		closeStdout bool
		// clean: devstack itself stops everything and exits 0. After SIGKILL
		// only the parent-death signal stops the children.
		clean bool
	}{
		{name: "SIGHUP, a closed terminal", sig: syscall.SIGHUP, clean: true},
		{name: "SIGINT with its stdout reader gone", sig: syscall.SIGINT, closeStdout: true, clean: true},
		{name: "SIGKILL", sig: syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := devstackCmd(t, self, dir)
			out := startDevstack(t, cmd, dir)
			pids := readPids(t, cmd, out, dir)
			t.Cleanup(func() {
				for _, pid := range pids {
					if childproc.Running(pid) {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			if tt.closeStdout {
				out.Close()
			}
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatalf("signalling devstack: %v", err)
			}
			if err := cmd.Wait(); tt.clean && err != nil {
				stderrText, _ := os.ReadFile(filepath.Join(dir, "devstack.stderr"))
				t.Errorf("devstack after %v: %v, want a clean stop; stderr:\n%s", tt.sig, err, stderrText)
			}
			// After SIGKILL the children get their parent-death signal and
			// stop on their own; ClickHouse takes a few seconds.
			deadline := time.Now().Add(chlocal.StopTimeout + 5*time.Second)
			for _, pid := range pids {
				for childproc.Running(pid) && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				if childproc.Running(pid) {
					t.Errorf("pid %d, which devstack reported, still runs after devstack got %v", pid, tt.sig)
				}
			}
		})
	}
}

// devstackCmd is a devstack on the data directory under dir, run through a
// symbolic link named devstack to the test binary, with free ports; its
// services are the test binary too.
func devstackCmd(t *testing.T, self, dir string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"devstack", "ingest", "enrich", "sink", "console"} {
		if err := os.Symlink(self, filepath.Join(bin, name)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	port := func() string {
		_, p, _ := net.SplitHostPort(testenv.FreeAddr(t))
		return p
	}
	cmd := exec.Command(filepath.Join(bin, "devstack"), "-data", filepath.Join(dir, "data"), "-bin", bin,
		"-kafka-port", port(), "-clickhouse-port", port(), "-clickhouse-http-port", port(),
		"-ingest-metrics-addr", testenv.FreeAddr(t), "-enrich-addr", testenv.FreeAddr(t), "-sink-addr", testenv.FreeAddr(t),
		"-console-addr", testenv.FreeAddr(t), "-console-metrics-addr", testenv.FreeAddr(t))
	cmd.Env = []string{roleVar + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "INGEST_ADDR=" + testenv.FreeAddr(t)}
	return cmd
}

// startDevstack starts cmd with its stderr in dir/devstack.stderr and
// returns the read end of its stdout.
func startDevstack(t *testing.T, cmd *exec.Cmd, dir string) *os.File {
	t.Helper()
	stderr, err := os.Create(filepath.Join(dir, "devstack.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stderr.Close() })
	cmd.Stderr = stderr
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIntegrationSecondDevstackLeavesTheFirstAlone starts a devstack, then a
// second one on the same data directory: the second must not take the first
// one's ClickHouse for a leftover, and must say why it stops.
func TestIntegrationSecondDevstackLeavesTheFirstAlone(t *testing.T) {
	if _, err := chlocal.FindBinary(); err != nil {
		testenv.Unavailable(t, "no ClickHouse binary: %v", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := devstackCmd(t, self, dir)
	out := startDevstack(t, first, dir)
	pids := readPids(t, first, out, dir)
	t.Cleanup(func() {
		first.Process.Signal(syscall.SIGINT)
		first.Wait()
	})

	// Bounded: a second devstack that took the first one's server for a
	// leftover would run its own stack until killed.
	second := devstackCmd(t, self, dir)
	timer := time.AfterFunc(time.Minute, func() { second.Process.Signal(syscall.SIGINT) })
	defer timer.Stop()
	got, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(got), "belongs to a devstack that is still running (pid "+strconv.Itoa(first.Process.Pid)+"): is another `make run` going in this directory?") {
		t.Errorf("second devstack: %v, output:\n%s\nwant it to stop, naming the first devstack", err, got)
	}
	for _, pid := range pids {
		if !childproc.Running(pid) {
			t.Errorf("pid %d of the first devstack ended when the second started", pid)
		}
	}
}

// readPids reads devstack's stdout until it says the stack is up, and
// returns every pid it reported: ClickHouse's and the four services'. The
// rest of stdout is drained so devstack never writes to a full pipe.
func readPids(t *testing.T, cmd *exec.Cmd, out io.Reader, dir string) []int {
	t.Helper()
	pidRE := regexp.MustCompile(`\(pid (\d+)[,)]`)
	var (
		pids []int
		mu   sync.Mutex // guards seen, which the reader appends to throughout
		seen []string
	)
	lines := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(seen, "\n")
	}
	up := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		reported := false
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
			if m := pidRE.FindStringSubmatch(line); m != nil && !reported {
				pid, _ := strconv.Atoi(m[1])
				pids = append(pids, pid)
			}
			if strings.HasPrefix(line, "Stop with Ctrl-C") && !reported {
				reported = true
				up <- nil
			}
		}
		if !reported {
			up <- fmt.Errorf("devstack's stdout ended before the stack was up")
		}
	}()
	select {
	case err := <-up:
		if err != nil {
			stderr, _ := os.ReadFile(filepath.Join(dir, "devstack.stderr"))
			cmd.Process.Kill()
			t.Fatalf("%v; stdout:\n%s\nstderr:\n%s", err, lines(), stderr)
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("devstack not up after 2 minutes; stdout so far:\n%s", lines())
	}
	if len(pids) != 5 || slices.Contains(pids, 0) {
		t.Fatalf("devstack reported pids %v, want ClickHouse's and four services'; stdout:\n%s", pids, lines())
	}
	return pids
}
