// Package chlocal runs a ClickHouse server from a binary on PATH, on a
// directory of its own: what devstack and the test environment start when no
// server is given.
//
// The server listens on 127.0.0.1 only, with a passwordless default user
// reachable from 127.0.0.1 and ::1, and keeps its configuration, data and logs
// under the directory, so starting it again on the same directory and ports
// finds the same data. It runs in a process group of its own: Stop ends that
// group by its id, never processes found by name, and a Ctrl-C at the terminal
// reaches only the parent, which can then stop ClickHouse after what writes to
// it.
package chlocal

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
)

// Timeouts of Start and Stop.
const (
	// ReadyTimeout bounds the wait for a starting server to answer: 18.16
	// loads its tables before it listens, which takes seconds on a small disk.
	ReadyTimeout = 60 * time.Second
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	// ClickHouse finishes running queries and merges first.
	StopTimeout = 20 * time.Second
)

// Ports are the server's TCP ports on 127.0.0.1.
type Ports struct {
	// Native is the native protocol's port (clickhouse-go, clickhouse-client);
	// ClickHouse's own default is 9000.
	Native int
	// HTTP is the HTTP interface's port; ClickHouse's own default is 8123.
	HTTP int
	// Interserver is the port replicas fetch parts from (ClickHouse's default
	// 9009); only a replica (NewReplica) needs one.
	Interserver int
}

// Replication makes a server one replica of the single shard of a cluster,
// coordinated by ZooKeeper: what migrations ON CLUSTER and Replicated* engines
// need.
type Replication struct {
	// Cluster names the cluster in remote_servers (the CLICKHOUSE_CLUSTER of
	// the services).
	Cluster string
	// Replicas are the host:port native addresses of every replica of the
	// shard, this server's included.
	Replicas []string
	// ZooKeeper are the host:port addresses of the ZooKeeper ensemble.
	ZooKeeper []string
	// Shard and Replica are the {shard} and {replica} macros; Replica must
	// differ between the servers of a shard.
	Shard, Replica string
}

// clusterNameRE is what remote_servers takes as an element name and ON
// CLUSTER as an unquoted name.
var clusterNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r Replication) validate() error {
	if r.Cluster == "" || r.Shard == "" || r.Replica == "" || len(r.Replicas) == 0 || len(r.ZooKeeper) == 0 {
		return fmt.Errorf("replication %+v needs a cluster, shard, replica, replicas and ZooKeeper", r)
	}
	if !clusterNameRE.MatchString(r.Cluster) {
		return fmt.Errorf("cluster name %q must match %s", r.Cluster, clusterNameRE)
	}
	for _, addr := range append(append([]string{}, r.Replicas...), r.ZooKeeper...) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("replication address %q: %w", addr, err)
		}
	}
	return nil
}

// Server is a ClickHouse server process on its own directory. Create it with
// New; Start and Stop may alternate, keeping the directory and the ports.
// Its methods are safe for concurrent use.
type Server struct {
	argv  []string
	dir   string
	ports Ports
	repl  *Replication // nil for a single server

	mu   sync.Mutex
	proc *process // the running server, nil when stopped
}

// New writes config.xml and users.xml for ports into dir (created if missing,
// existing data kept) and returns a stopped Server that runs argv, the command
// line from FindBinary.
func New(argv []string, dir string, ports Ports) (*Server, error) {
	return newServer(argv, dir, ports, nil)
}

// NewReplica is New for one replica of a cluster: its configuration adds
// remote_servers, zookeeper, macros, distributed_ddl and the interserver port
// (ports.Interserver, required).
func NewReplica(argv []string, dir string, ports Ports, repl Replication) (*Server, error) {
	if err := repl.validate(); err != nil {
		return nil, fmt.Errorf("creating a ClickHouse replica: %w", err)
	}
	if ports.Interserver <= 0 || ports.Interserver == ports.Native || ports.Interserver == ports.HTTP {
		return nil, fmt.Errorf("creating a ClickHouse replica: interserver port of %+v must be a positive number of its own", ports)
	}
	return newServer(argv, dir, ports, &repl)
}

func newServer(argv []string, dir string, ports Ports, repl *Replication) (*Server, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("creating a ClickHouse server: no command to run")
	}
	if ports.Native <= 0 || ports.HTTP <= 0 || ports.Native == ports.HTTP {
		return nil, fmt.Errorf("creating a ClickHouse server: ports %+v must be two different positive numbers", ports)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving the ClickHouse directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("creating the ClickHouse directory: %w", err)
	}
	s := &Server{argv: argv, dir: abs, ports: ports, repl: repl}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the host:port of the native protocol.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.Native))
}

// Ports returns the server's ports.
func (s *Server) Ports() Ports { return s.ports }

// Dir is the server's directory: config.xml, users.xml, data/ and the logs
// server.log, server.err.log and stdout.log.
func (s *Server) Dir() string { return s.dir }

// Pid is the process id of the running server (also its process group id),
// or 0 when it is stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.pid()
}

// Exited is closed when the running server's process ends; nil when it is
// stopped. A parent watches it to notice a server that died.
func (s *Server) Exited() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	return s.proc.done
}

// Start runs the server and waits until it answers a native ping, up to
// ReadyTimeout. If it does not, Start stops it and returns an error ending
// with the tail of its logs (a port in use shows there). Starting a running
// server is an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.proc != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting ClickHouse in %s: it is already running (pid %d)", s.dir, s.proc.pid())
	}
	p, err := startProcess(s.argv, s.dir)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("starting ClickHouse in %s: %w", s.dir, err)
	}
	s.proc = p
	s.mu.Unlock()

	if err := WaitReady(ctx, s.Addr(), "default", "", ReadyTimeout, p.done); err != nil {
		tail := s.logTail()
		if stopErr := s.Stop(); stopErr != nil {
			err = fmt.Errorf("%w (and %v)", err, stopErr)
		}
		return fmt.Errorf("starting ClickHouse in %s on %s: %w%s", s.dir, s.Addr(), err, tail)
	}
	return nil
}

// Stop sends SIGTERM to the server's process group, waits up to StopTimeout,
// then sends SIGKILL and waits for the process to end. Stopping a stopped
// server does nothing.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return nil
	}
	p := s.proc
	s.proc = nil
	if err := p.stop(StopTimeout); err != nil {
		return fmt.Errorf("stopping ClickHouse (pid %d): %w", p.pid(), err)
	}
	return nil
}

// StopLeftover stops a server that an earlier run left on this directory,
// for example after its parent was killed on a system without a parent-death
// signal, and returns its pid, or 0 when there was none. ClickHouse writes
// its pid to data/status while it runs and removes the file when it stops;
// the process is stopped only if its command line runs this directory's
// config.xml, so a pid the system has since given to another program is left
// alone, and only if its parent is not a running devstack. When it cannot be
// stopped the error says what to run.
func (s *Server) StopLeftover() (int, error) {
	pid, err := statusPid(filepath.Join(s.dir, "data", "status"))
	if err != nil || pid == 0 {
		return 0, err
	}
	if !runsConfig(pid, filepath.Join(s.dir, "config.xml")) {
		return 0, nil
	}
	// A server whose devstack still runs is not left over: that is a second
	// `make run` on the same directory.
	if ppid, name := parentOf(pid); name == "devstack" {
		return 0, fmt.Errorf("the ClickHouse server (pid %d) on %s belongs to a devstack that is still running (pid %d): is another `make run` going in this directory? Stop it first (Ctrl-C in its terminal, or kill %d)", pid, s.dir, ppid, ppid)
	}
	if err := stopPid(pid, StopTimeout); err != nil {
		return pid, fmt.Errorf("stopping the ClickHouse server (pid %d) left running on %s: %w; stop it with `kill %d` and start again", pid, s.dir, err, pid)
	}
	return pid, nil
}

// statusPid reads the "PID: n" line of ClickHouse's status file; 0 when the
// file does not exist.
func statusPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading ClickHouse's status file: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "PID:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("reading ClickHouse's status file %s: bad PID line %q", path, strings.TrimSpace(line))
			}
			return pid, nil
		}
	}
	return 0, nil
}

// WaitReady pings the native protocol at addr until the server answers,
// timeout passes, ctx ends, or exited (if not nil) is closed because the
// server's process ended.
func WaitReady(ctx context.Context, addr, username, password string, timeout time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := chstore.ConnectServer(chstore.Config{Addr: addr, Username: username, Password: password, DialTimeout: 2 * time.Second})
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		pingCtx, pingCancel := context.WithTimeout(ctx, 2*time.Second)
		err = conn.Ping(pingCtx)
		pingCancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("server exited before answering: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("server at %s did not answer within %v: %w", addr, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// writeConfig writes config.xml and users.xml: listen on 127.0.0.1 only,
// everything under s.dir, UTC, small caches, a passwordless default user. The
// <yandex> root is what 18.16 reads; current releases still accept it. No
// interserver port for a single server: it replicates nothing.
func (s *Server) writeConfig() error {
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
%[4]s</yandex>
`, s.dir, s.ports.Native, s.ports.HTTP, s.replicationConfig())
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
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), []byte(config), 0o600); err != nil {
		return fmt.Errorf("writing ClickHouse config.xml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o600); err != nil {
		return fmt.Errorf("writing ClickHouse users.xml: %w", err)
	}
	return nil
}

// replicationConfig is the part of config.xml that makes a replica, empty
// for a single server. Replicas find each other's interserver port through
// ZooKeeper, where each registers interserver_http_host: 127.0.0.1, so that
// fetches stay on loopback. The DDL queue of ON CLUSTER queries lives in
// ZooKeeper too.
func (s *Server) replicationConfig() string {
	if s.repl == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "    <interserver_http_host>127.0.0.1</interserver_http_host>\n")
	fmt.Fprintf(&b, "    <interserver_http_port>%d</interserver_http_port>\n", s.ports.Interserver)
	fmt.Fprintf(&b, "    <remote_servers>\n        <%s>\n            <shard>\n                <internal_replication>true</internal_replication>\n", s.repl.Cluster)
	for _, addr := range s.repl.Replicas {
		host, port, _ := net.SplitHostPort(addr)
		fmt.Fprintf(&b, "                <replica><host>%s</host><port>%s</port></replica>\n", html.EscapeString(host), port)
	}
	fmt.Fprintf(&b, "            </shard>\n        </%s>\n    </remote_servers>\n", s.repl.Cluster)
	b.WriteString("    <zookeeper>\n")
	for _, addr := range s.repl.ZooKeeper {
		host, port, _ := net.SplitHostPort(addr)
		fmt.Fprintf(&b, "        <node><host>%s</host><port>%s</port></node>\n", html.EscapeString(host), port)
	}
	b.WriteString("    </zookeeper>\n")
	fmt.Fprintf(&b, "    <macros><shard>%s</shard><replica>%s</replica></macros>\n", html.EscapeString(s.repl.Shard), html.EscapeString(s.repl.Replica))
	b.WriteString("    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>\n")
	return b.String()
}

// logTail returns the end of the server's error log and stdout, for errors.
func (s *Server) logTail() string {
	var b []byte
	for _, name := range []string{"server.err.log", "stdout.log"} {
		data, err := os.ReadFile(filepath.Join(s.dir, name))
		if err != nil || len(data) == 0 {
			continue
		}
		if len(data) > 2000 {
			data = data[len(data)-2000:]
		}
		b = fmt.Appendf(b, "\n--- %s:\n%s", filepath.Join(s.dir, name), data)
	}
	return string(b)
}
