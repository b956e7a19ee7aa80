//go:build unix

package chlocal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/reftrail/reftrail/internal/dev/childproc"
)

// FindBinary returns the command line prefix that runs a ClickHouse server:
// clickhouse-server (Debian's 18.16 package installs it in /usr/sbin, which
// is not on an ordinary user's PATH, so that is looked at too), or the single
// clickhouse binary of current releases with its server subcommand.
func FindBinary() ([]string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("/usr/sbin/clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, errors.New("neither clickhouse-server (on PATH or in /usr/sbin) nor clickhouse is on PATH")
}

// process is one run of the server binary, in a process group of its own.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// startProcess runs argv with dir's config.xml, its output appended to
// dir/stdout.log.
func startProcess(argv []string, dir string) (*process, error) {
	out, err := os.OpenFile(filepath.Join(dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the server's stdout log: %w", err)
	}
	args := append(append([]string{}, argv[1:]...), "--config-file="+filepath.Join(dir, "config.xml"))
	cmd := exec.Command(argv[0], args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := childproc.Start(cmd); err != nil {
		out.Close()
		return nil, fmt.Errorf("running %s: %w", strings.Join(argv, " "), err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process group, then SIGKILL after timeout, and
// waits for the server to end. With Setpgid the group id is the server's pid.
func (p *process) stop(timeout time.Duration) error {
	pgid := p.pid()
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling process group %d: %w", pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing process group %d: %w", pgid, err)
	}
	<-p.done
	return nil
}

// runsConfig reports whether process pid is running (not a zombie) with
// --config-file=config among its arguments: a server on that directory.
func runsConfig(pid int, config string) bool {
	if !childproc.Running(pid) {
		return false
	}
	want := "--config-file=" + config
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		return slices.Contains(strings.Split(string(cmdline), "\x00"), want)
	}
	// No /proc (macOS, the BSDs): ps joins the arguments with spaces.
	out, err := exec.Command("ps", "-p", strconv.Itoa(pid), "-o", "command=").Output()
	return err == nil && strings.Contains(string(out), want)
}

// parentOf returns the parent's pid of pid and the parent's command name
// (the base name of the program it runs); 0 and "" when unknown.
func parentOf(pid int) (int, string) {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 {
			return 0, ""
		}
		ppid, _ := strconv.Atoi(fields[1])
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid))
		return ppid, strings.TrimSpace(string(comm))
	}
	// No /proc (macOS, the BSDs).
	out, err := exec.Command("ps", "-o", "ppid=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return 0, ""
	}
	ppid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || ppid <= 1 {
		return ppid, ""
	}
	out, err = exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(ppid)).Output()
	if err != nil {
		return ppid, ""
	}
	return ppid, filepath.Base(strings.TrimSpace(string(out)))
}

// stopPid sends SIGTERM to pid, waits up to timeout for it to end, then sends
// SIGKILL and waits a little more. pid is not our child: its end shows as it
// leaving the process table, or becoming a zombie of init.
func stopPid(pid int, timeout time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("signalling pid %d: %w", pid, err)
	}
	if waitGone(pid, timeout) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing pid %d: %w", pid, err)
	}
	if !waitGone(pid, 5*time.Second) {
		return fmt.Errorf("pid %d still runs after SIGKILL", pid)
	}
	return nil
}

func waitGone(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !childproc.Running(pid) {
			return true
		}
	}
	return !childproc.Running(pid)
}
