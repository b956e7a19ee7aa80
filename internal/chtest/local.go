//go:build unix

package chtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// findBinary returns the command line prefix that runs a ClickHouse server:
// clickhouse-server (Debian's 18.16 package installs it in /usr/sbin), or the
// single clickhouse binary of current releases with its server subcommand.
func findBinary() ([]string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, errors.New("neither clickhouse-server nor clickhouse is on PATH")
}

// process is a ClickHouse server run from a binary in its own process group,
// on its own directory: config, data and logs.
type process struct {
	argv []string
	dir  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// startLocal writes a configuration on free ports into a new temporary
// directory and starts a server on it. Another process may take a port between
// the probe and the server's bind, so it tries new ports a few times.
func startLocal(ctx context.Context, argv []string) (*Server, error) {
	dir, err := os.MkdirTemp("", "chtest-")
	if err != nil {
		return nil, fmt.Errorf("creating the server directory: %w", err)
	}
	p := &process{argv: argv, dir: dir}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		var srv *Server
		srv, lastErr = p.tryStart(ctx)
		if lastErr == nil {
			return srv, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (p *process) tryStart(ctx context.Context) (*Server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	if err := p.writeConfig(ports[0], ports[1], ports[2]); err != nil {
		return nil, err
	}
	srv := &Server{
		Addr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		Username: "default",
		mode:     "local",
		local:    p,
		stop: func() error {
			err := p.stop()
			if rmErr := os.RemoveAll(p.dir); rmErr != nil && err == nil {
				err = fmt.Errorf("removing %s: %w", p.dir, rmErr)
			}
			return err
		},
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, srv, readyTimeout, p.exited()); err != nil {
		tail := p.logTail()
		_ = p.stop()
		return nil, fmt.Errorf("starting %s: %w%s", strings.Join(p.argv, " "), err, tail)
	}
	return srv, nil
}

// freePorts returns n TCP ports of 127.0.0.1 that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// writeConfig writes config.xml and users.xml: listen on 127.0.0.1 only,
// everything under p.dir, UTC, small caches, a passwordless default user. The
// <yandex> root is what 18.16 reads; current releases still accept it.
func (p *process) writeConfig(tcpPort, httpPort, interserverPort int) error {
	config := fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>%[1]s/server.log</log>
        <errorlog>%[1]s/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <interserver_http_port>%[4]d</interserver_http_port>
    <path>%[1]s/data/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>%[1]s/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>200</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
</yandex>
`, p.dir, tcpPort, httpPort, interserverPort)
	users := `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(p.dir, "config.xml"), []byte(config), 0o600); err != nil {
		return fmt.Errorf("writing config.xml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, "users.xml"), []byte(users), 0o600); err != nil {
		return fmt.Errorf("writing users.xml: %w", err)
	}
	return nil
}

// start runs the server in a process group of its own, so that stop can end
// it and anything it spawned by process id, never by name.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("the server is already running")
	}
	out, err := os.OpenFile(filepath.Join(p.dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the server's stdout log: %w", err)
	}
	args := append(append([]string{}, p.argv[1:]...), "--config-file="+filepath.Join(p.dir, "config.xml"))
	cmd := exec.Command(p.argv[0], args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("running %s: %w", strings.Join(p.argv, " "), err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// exited is closed when the running server process ends.
func (p *process) exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// stop sends SIGTERM to the server's process group and waits; after 20 s it
// sends SIGKILL. Stopping a stopped server does nothing.
func (p *process) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid // Setpgid: the group id is the leader's pid
	defer func() { p.cmd, p.done = nil, nil }()
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signalling ClickHouse process group %d: %w", pgid, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(20 * time.Second):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing ClickHouse process group %d: %w", pgid, err)
	}
	<-p.done
	return nil
}

// logTail returns the end of the server's error log and stdout, for errors.
func (p *process) logTail() string {
	var b strings.Builder
	for _, name := range []string{"server.err.log", "stdout.log"} {
		data, err := os.ReadFile(filepath.Join(p.dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		fmt.Fprintf(&b, "\n--- %s:\n%s", name, data)
	}
	return b.String()
}
