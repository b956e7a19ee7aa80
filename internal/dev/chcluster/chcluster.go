// Package chcluster gives integration tests a replicated ClickHouse on this
// machine: a standalone ZooKeeper (Debian's zookeeper package) and ClickHouse
// servers from the binary on PATH (chlocal), configured as replicas of one
// shard of the cluster Name, each on free ports and a temporary directory.
//
// With CLICKHOUSE_CLUSTER set, reftrail's migrations run ON CLUSTER Name and
// create Replicated* tables whose ZooKeeper paths and replica names come from
// the {shard} and {replica} macros each server defines here.
package chcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chlocal"
	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// Name is the cluster's name in every replica's remote_servers.
const Name = "reftrail"

// Cluster is a ZooKeeper and the ClickHouse replicas of one shard.
type Cluster struct {
	// ZooKeeper coordinates the replicas.
	ZooKeeper *ZooKeeper
	// Replicas are the servers, their {replica} macros r1, r2, ...
	Replicas []*Replica
}

// Replica is one ClickHouse server of the cluster, which a test may Stop and
// Restart.
type Replica struct {
	// Addr is the host:port of the native protocol; the user is "default"
	// without a password.
	Addr string
	// Name is its {replica} macro.
	Name string

	server *chlocal.Server
}

// Start starts a ZooKeeper and replicas ClickHouse servers, all stopped and
// their directories removed in t.Cleanup. It skips t when java, Debian's
// zookeeper or a clickhouse-server binary is missing, or CLICKHOUSE_ADDR is
// set (the user chose a server), unless CI is set: then it fails.
func Start(t testing.TB, replicas int) *Cluster {
	t.Helper()
	if os.Getenv("CLICKHOUSE_ADDR") != "" {
		t.Skip("chcluster: CLICKHOUSE_ADDR is set; a replicated cluster needs local clickhouse-server processes of its own")
	}
	chArgv, err := chlocal.FindBinary()
	if err != nil {
		testenv.Unavailable(t, "chcluster: a replicated cluster needs local clickhouse-server processes: %v", err)
	}
	zkArgv, err := FindZooKeeper()
	if err != nil {
		testenv.Unavailable(t, "chcluster: %v", err)
	}
	dir, err := os.MkdirTemp("", "chcluster-")
	if err != nil {
		t.Fatalf("chcluster: %v", err)
	}
	c := &Cluster{}
	// Cleanups run last in, first out: replicas stop before ZooKeeper, which
	// stops before the directory goes.
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("chcluster: removing %s: %v", dir, err)
		}
	})
	ctx := context.Background()

	// Every replica's configuration lists every replica, so all ports are
	// chosen first: 1 for ZooKeeper, 3 per replica.
	ports, err := freePorts(1 + 3*replicas)
	if err != nil {
		t.Fatalf("chcluster: %v", err)
	}
	zkDir := filepath.Join(dir, "zookeeper")
	if err := os.MkdirAll(zkDir, 0o755); err != nil {
		t.Fatalf("chcluster: %v", err)
	}
	c.ZooKeeper, err = StartZooKeeper(ctx, zkArgv, zkDir, ports[0])
	if err != nil {
		t.Fatalf("chcluster: %v", err)
	}
	t.Cleanup(func() {
		if err := c.ZooKeeper.Stop(); err != nil {
			t.Errorf("chcluster: %v", err)
		}
	})

	var addrs []string
	for i := range replicas {
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1+3*i])))
	}
	for i := range replicas {
		p := ports[1+3*i:]
		name := "r" + strconv.Itoa(i+1)
		srv, err := chlocal.NewReplica(chArgv, filepath.Join(dir, name),
			chlocal.Ports{Native: p[0], HTTP: p[1], Interserver: p[2]},
			chlocal.Replication{Cluster: Name, Replicas: addrs, ZooKeeper: []string{c.ZooKeeper.Addr}, Shard: "01", Replica: name})
		if err != nil {
			t.Fatalf("chcluster: %v", err)
		}
		c.Replicas = append(c.Replicas, &Replica{Addr: srv.Addr(), Name: name, server: srv})
	}
	// 18.16 loads for seconds before it listens: start the replicas together.
	errs := make(chan error, replicas)
	for _, r := range c.Replicas {
		go func() { errs <- r.server.Start(ctx) }()
		t.Cleanup(func() {
			if err := r.server.Stop(); err != nil {
				t.Errorf("chcluster: %v", err)
			}
		})
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Fatalf("chcluster: %v", err)
		}
	}
	return c
}

// Stop stops the replica (SIGTERM to its process group), keeping its data
// and ports for Restart.
func (r *Replica) Stop(t testing.TB) {
	t.Helper()
	if err := r.server.Stop(); err != nil {
		t.Fatalf("chcluster: %v", err)
	}
}

// Restart starts a stopped replica again on its data and waits until it
// answers.
func (r *Replica) Restart(t testing.TB) {
	t.Helper()
	if err := r.server.Start(context.Background()); err != nil {
		t.Fatalf("chcluster: restarting replica %s: %v", r.Name, err)
	}
}

// Conn opens a native connection to the replica whose default database is
// database (the server's default when empty), closed in t.Cleanup.
func (r *Replica) Conn(t testing.TB, database string) driver.Conn {
	t.Helper()
	cfg := chstore.Config{Addr: r.Addr, Database: database, DialTimeout: 2 * time.Second, ReadTimeout: 60 * time.Second}
	var conn driver.Conn
	var err error
	if database == "" {
		conn, err = chstore.ConnectServer(cfg)
	} else {
		conn, err = chstore.Connect(cfg)
	}
	if err != nil {
		t.Fatalf("chcluster: connecting to replica %s: %v", r.Name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
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
