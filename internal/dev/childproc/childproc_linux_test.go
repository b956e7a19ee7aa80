package childproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// roleVar makes the test binary act as a parent that starts a long sleep
// through Start, prints its pid and waits to be killed.
const roleVar = "CHILDPROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(roleVar) == "1" {
		parent()
		return
	}
	os.Exit(m.Run())
}

// parent starts the child from a goroutine whose thread then exits, as a
// goroutine locked to its thread does when it returns: the child must not get
// its parent-death signal then, only when the process ends.
func parent() {
	// The main thread never exits; keep the starting goroutine off it.
	runtime.LockOSThread()
	started := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		cmd := exec.Command("sleep", "600")
		if err := Start(cmd); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		started <- cmd.Process.Pid
	}()
	pid := <-started
	time.Sleep(300 * time.Millisecond) // the starting goroutine's thread is gone by now
	fmt.Println(pid)
	time.Sleep(time.Hour)
}

func TestChildEndsWithItsParent(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep binary")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), roleVar+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's pid: %v", err)
	}
	child, err := strconv.Atoi(line[:len(line)-1])
	if err != nil {
		t.Fatalf("child's pid %q: %v", line, err)
	}
	t.Cleanup(func() {
		if Running(child) {
			syscall.Kill(child, syscall.SIGKILL)
		}
	})
	if !Running(child) {
		t.Fatalf("child %d ended while its parent runs: the signal followed the starting thread", child)
	}

	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for Running(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still runs 10s after its parent was killed", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunning(t *testing.T) {
	if !Running(os.Getpid()) {
		t.Error("Running(own pid) = false, want true")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("running true: %v", err)
	}
	if Running(cmd.Process.Pid) {
		t.Errorf("Running(%d) = true for a process that ended and was reaped", cmd.Process.Pid)
	}
}
