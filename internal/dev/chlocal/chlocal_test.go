package chlocal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name    string
		argv    []string
		ports   Ports
		wantErr string
	}{
		{name: "no command", ports: Ports{Native: 9000, HTTP: 8123}, wantErr: "no command"},
		{name: "missing port", argv: []string{"clickhouse-server"}, ports: Ports{Native: 9000}, wantErr: "two different positive numbers"},
		{name: "same port twice", argv: []string{"clickhouse-server"}, ports: Ports{Native: 9000, HTTP: 9000}, wantErr: "two different positive numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.argv, t.TempDir(), tt.ports)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewWritesLoopbackConfig(t *testing.T) {
	dir := t.TempDir()
	s, err := New([]string{"clickhouse-server"}, dir, Ports{Native: 19000, HTTP: 18123})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if got, want := s.Addr(), "127.0.0.1:19000"; got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
	config := readFile(t, dir+"/config.xml")
	for _, want := range []string{"<listen_host>127.0.0.1</listen_host>", "<tcp_port>19000</tcp_port>", "<http_port>18123</http_port>", "<path>" + dir + "/data/</path>"} {
		if !strings.Contains(config, want) {
			t.Errorf("config.xml lacks %q:\n%s", want, config)
		}
	}
	if users := readFile(t, dir+"/users.xml"); !strings.Contains(users, "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>") {
		t.Errorf("users.xml does not limit the default user to loopback:\n%s", users)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	return string(b)
}

func TestNewReplica(t *testing.T) {
	good := Replication{Cluster: "reftrail", Replicas: []string{"127.0.0.1:19000", "127.0.0.1:19001"},
		ZooKeeper: []string{"127.0.0.1:2181"}, Shard: "01", Replica: "r1"}
	ports := Ports{Native: 19000, HTTP: 18123, Interserver: 19009}
	tests := []struct {
		name    string
		ports   Ports
		edit    func(r *Replication)
		wantErr string
	}{
		{name: "no interserver port", ports: Ports{Native: 19000, HTTP: 18123}, wantErr: "interserver port"},
		{name: "interserver port taken", ports: Ports{Native: 19000, HTTP: 18123, Interserver: 18123}, wantErr: "interserver port"},
		{name: "no ZooKeeper", ports: ports, edit: func(r *Replication) { r.ZooKeeper = nil }, wantErr: "needs a cluster"},
		{name: "no replica macro", ports: ports, edit: func(r *Replication) { r.Replica = "" }, wantErr: "needs a cluster"},
		{name: "cluster name not an identifier", ports: ports, edit: func(r *Replication) { r.Cluster = "a<b" }, wantErr: "cluster name"},
		{name: "replica without a port", ports: ports, edit: func(r *Replication) { r.Replicas = []string{"127.0.0.1"} }, wantErr: "replication address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			if tt.edit != nil {
				tt.edit(&r)
			}
			_, err := NewReplica([]string{"clickhouse-server"}, t.TempDir(), tt.ports, r)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewReplica error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}

	dir := t.TempDir()
	if _, err := NewReplica([]string{"clickhouse-server"}, dir, ports, good); err != nil {
		t.Fatalf("NewReplica: %v", err)
	}
	config := readFile(t, dir+"/config.xml")
	for _, want := range []string{
		"<interserver_http_port>19009</interserver_http_port>",
		"<reftrail>",
		"<replica><host>127.0.0.1</host><port>19000</port></replica>",
		"<replica><host>127.0.0.1</host><port>19001</port></replica>",
		"<node><host>127.0.0.1</host><port>2181</port></node>",
		"<macros><shard>01</shard><replica>r1</replica></macros>",
		"<distributed_ddl>",
	} {
		if !strings.Contains(config, want) {
			t.Errorf("config.xml lacks %q:\n%s", want, config)
		}
	}
	if _, err := New([]string{"clickhouse-server"}, dir, Ports{Native: 19000, HTTP: 18123}); err != nil {
		t.Fatalf("New: %v", err)
	}
	if config := readFile(t, dir+"/config.xml"); strings.Contains(config, "zookeeper") {
		t.Errorf("a single server's config.xml names ZooKeeper:\n%s", config)
	}
}

// TestStopLeftoverLeavesOthersAlone checks that a status file whose pid is
// gone, or now belongs to a process that is not this directory's server, stops
// nothing.
func TestStopLeftoverLeavesOthersAlone(t *testing.T) {
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Skipf("running true: %v", err)
	}
	tests := []struct {
		name    string
		status  string
		wantErr string
	}{
		{name: "no status file"},
		{name: "pid of a process that ended", status: fmt.Sprintf("PID: %d\nStarted at: 2026-12-02 05:00:00\nRevision: 54413\n", ended.Process.Pid)},
		{name: "pid of another program", status: fmt.Sprintf("PID: %d\n", os.Getpid())},
		{name: "garbled", status: "PID: twelve\n", wantErr: `bad PID line "PID: twelve"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := New([]string{"clickhouse-server"}, dir, Ports{Native: 19000, HTTP: 18123})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if tt.status != "" {
				os.MkdirAll(filepath.Join(dir, "data"), 0o755)
				if err := os.WriteFile(filepath.Join(dir, "data", "status"), []byte(tt.status), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pid, err := s.StopLeftover()
			if pid != 0 {
				t.Errorf("StopLeftover stopped pid %d, want none", pid)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("StopLeftover error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
