package chcluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// zooKeeperJar is where Debian's zookeeper package puts the server; its
// manifest's Class-Path names the jars it needs.
const zooKeeperJar = "/usr/share/java/zookeeper.jar"

// FindZooKeeper returns the command line prefix that runs a standalone
// ZooKeeper server: java with Debian's zookeeper jar. The configuration
// file's path is the last argument to add.
func FindZooKeeper() ([]string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("ZooKeeper needs java on PATH: %w", err)
	}
	if _, err := os.Stat(zooKeeperJar); err != nil {
		return nil, fmt.Errorf("ZooKeeper is not installed (Debian package zookeeper): %w", err)
	}
	// A small heap (the DDL queue and a few tables' replication logs) and
	// the quick client compiler: a test's ZooKeeper lives for a minute.
	return []string{java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", zooKeeperJar, "org.apache.zookeeper.server.ZooKeeperServerMain"}, nil
}

// ZooKeeper is a standalone ZooKeeper server on 127.0.0.1, its data in a
// directory of its own.
type ZooKeeper struct {
	// Addr is the client host:port.
	Addr string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// StartZooKeeper writes zoo.cfg into dir and runs argv (from FindZooKeeper)
// on it, listening on port of 127.0.0.1, until it answers "ruok".
func StartZooKeeper(ctx context.Context, argv []string, dir string, port int) (*ZooKeeper, error) {
	// No admin server (it would take port 8080); tickTime 500ms so that
	// sessions of stopped clients expire within seconds (20 ticks at most).
	// No fsync and a small transaction log: ClickHouse 18.16 gives a
	// ZooKeeper handshake one second, and a test's data is thrown away.
	cfg := fmt.Sprintf(`tickTime=500
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
forceSync=no
preAllocSize=1024
`, filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("writing zoo.cfg: %w", err)
	}
	logPath := filepath.Join(dir, "zookeeper.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening ZooKeeper's log: %w", err)
	}
	cmd := exec.Command(argv[0], append(append([]string{}, argv[1:]...), cfgPath)...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("running ZooKeeper: %w", err)
	}
	z := &ZooKeeper{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(z.done)
	}()
	if err := z.waitReady(ctx, 60*time.Second); err != nil {
		stopErr := z.Stop()
		log, _ := os.ReadFile(logPath)
		if len(log) > 2000 {
			log = log[len(log)-2000:]
		}
		return nil, fmt.Errorf("starting ZooKeeper on %s: %w (stop: %v)\n%s", z.Addr, err, stopErr, log)
	}
	return z, nil
}

// waitReady opens sessions until one succeeds, then a few more: ClickHouse
// 18.16 gives its handshake one second, and a server that fails it at start
// dies later (a null ZooKeeper in its DDL worker), so the first, slow
// sessions of a cold JVM are the test's, not ClickHouse's.
func (z *ZooKeeper) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	for ok := 0; ok < 5; {
		if err = z.handshake(); err == nil {
			ok++
			continue
		}
		select {
		case <-z.done:
			return fmt.Errorf("ZooKeeper exited: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("no session within %v: %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// handshake opens a ZooKeeper session and drops the connection: a
// ConnectRequest (protocol 0, no last zxid, 2 s timeout, a new session, an
// empty 16-byte password, read-write) and its ConnectResponse, in ZooKeeper's
// jute encoding, big-endian, after a 4-byte length.
func (z *ZooKeeper) handshake() error {
	conn, err := net.DialTimeout("tcp", z.Addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := binary.BigEndian.AppendUint32(nil, 0)   // protocol version
	req = binary.BigEndian.AppendUint64(req, 0)    // last zxid seen
	req = binary.BigEndian.AppendUint32(req, 2000) // session timeout, ms
	req = binary.BigEndian.AppendUint64(req, 0)    // session id: a new one
	req = binary.BigEndian.AppendUint32(req, 16)   // password length
	req = append(req, make([]byte, 16)...)
	req = append(req, 0) // not read-only
	if _, err := conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(req))), req...)); err != nil {
		return err
	}
	var resp [4 + 4 + 4 + 8]byte // length, protocol version, timeout, session id
	if _, err := io.ReadFull(conn, resp[:]); err != nil {
		return fmt.Errorf("reading the handshake's answer: %w", err)
	}
	if binary.BigEndian.Uint64(resp[12:]) == 0 {
		return errors.New("handshake answered without a session")
	}
	return nil
}

// Stop sends SIGTERM to the server's process, by its pid, then SIGKILL after
// 10 s, and waits for it to end.
func (z *ZooKeeper) Stop() error {
	select {
	case <-z.done:
		return nil
	default:
	}
	if err := z.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stopping ZooKeeper (pid %d): %w", z.cmd.Process.Pid, err)
	}
	select {
	case <-z.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	if err := z.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing ZooKeeper (pid %d): %w", z.cmd.Process.Pid, err)
	}
	<-z.done
	return nil
}
