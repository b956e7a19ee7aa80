package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chlocal"
	"github.com/reftrail/reftrail/internal/dev/debpkg"
)

// clickhouseImage is the image devstack suggests when Docker is the only way
// to get ClickHouse: the release chtest's container mode tests against.
const clickhouseImage = "clickhouse/clickhouse-server:25.8"

// aptPackages is Debian's ClickHouse (18.16 on Debian 11 and 12), which
// reftrail's DDL and queries support.
var aptPackages = []string{"clickhouse-server", "clickhouse-client"}

// host is what chooseClickHouse finds out about the machine, a field per
// question so that tests can answer without binaries, Docker or root.
type host struct {
	findBinary    func() ([]string, error)
	dockerAnswers func(ctx context.Context) bool
	debian        bool
	root          bool
	// install installs aptPackages, apt-get's output to aptLog.
	install func(ctx context.Context) error
	aptLog  string
}

// realHost looks at this machine; install appends apt-get's output to aptLog.
func realHost(aptLog string) host {
	deb := debpkg.ThisHost()
	return host{
		findBinary:    chlocal.FindBinary,
		dockerAnswers: dockerAnswers,
		debian:        deb.Debian,
		root:          deb.Root,
		aptLog:        aptLog,
		install: func(ctx context.Context) error {
			if err := os.MkdirAll(filepath.Dir(aptLog), 0o755); err != nil {
				return fmt.Errorf("creating the log directory: %w", err)
			}
			log, err := os.OpenFile(aptLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return fmt.Errorf("opening %s: %w", aptLog, err)
			}
			defer log.Close()
			return debpkg.Run(ctx, aptPackages, log)
		},
	}
}

// dockerAnswers says whether `docker info` succeeds within 10 s: a client on
// PATH and a daemon that answers it.
func dockerAnswers(ctx context.Context) bool {
	if _, err := exec.LookPath("docker"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "docker", "info").Run() == nil
}

// clickhouseChoice is the ClickHouse of the stack: a server at addr, or the
// binary argv to run locally.
type clickhouseChoice struct {
	addr string
	argv []string
}

// chooseClickHouse picks the stack's ClickHouse: CLICKHOUSE_ADDR when set,
// else a binary on PATH, else (with install, on a Debian-family system, as
// root) Debian's package, installed now after one line on out saying so.
// Without any, the error gives the one command that gets one on this
// machine: Debian's package with sudo, a container when Docker answers, or
// the official single binary. ports are the ones devstack would give a local
// server.
func chooseClickHouse(ctx context.Context, getenv func(string) string, h host, install bool, ports chlocal.Ports, out io.Writer) (clickhouseChoice, error) {
	if addr := getenv("CLICKHOUSE_ADDR"); addr != "" {
		return clickhouseChoice{addr: addr}, nil
	}
	argv, findErr := h.findBinary()
	if findErr == nil {
		return clickhouseChoice{argv: argv}, nil
	}
	if !install || !h.debian || !h.root {
		return clickhouseChoice{}, errors.New(howToGetClickHouse(ctx, h, ports, findErr))
	}
	fmt.Fprintf(out, "ClickHouse: none on this machine; installing Debian's %s with apt-get (its output in %s)\n", strings.Join(aptPackages, " and "), h.aptLog)
	if err := h.install(ctx); err != nil {
		return clickhouseChoice{}, fmt.Errorf("installing ClickHouse: %w (see %s)", err, h.aptLog)
	}
	argv, err := h.findBinary()
	if err != nil {
		return clickhouseChoice{}, fmt.Errorf("installing ClickHouse: apt-get succeeded but %w", err)
	}
	return clickhouseChoice{argv: argv}, nil
}

// howToGetClickHouse is the message for a machine without ClickHouse.
func howToGetClickHouse(ctx context.Context, h host, ports chlocal.Ports, findErr error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "no ClickHouse: CLICKHOUSE_ADDR is not set and %v. ", findErr)
	addr := fmt.Sprintf("127.0.0.1:%d", ports.Native)
	switch {
	case h.debian:
		fmt.Fprintf(&b, "Install Debian's ClickHouse (devstack then runs it on its own data directory), then make run again:\n"+
			"  sudo apt-get update && sudo apt-get install -y %s", strings.Join(aptPackages, " "))
	case h.dockerAnswers(ctx):
		fmt.Fprintf(&b, "Docker answers here; start ClickHouse in a container (its data kept in the volume reftrail-clickhouse):\n"+
			"  docker run -d --name reftrail-clickhouse -p %s:9000 -p 127.0.0.1:%d:8123 -e CLICKHOUSE_SKIP_USER_SETUP=1 -v reftrail-clickhouse:/var/lib/clickhouse %s\n"+
			"then run devstack with it:\n"+
			"  CLICKHOUSE_ADDR=%s make run",
			addr, ports.HTTP, clickhouseImage, addr)
	default:
		fmt.Fprintf(&b, "Get ClickHouse's single binary and put it on PATH (devstack runs it as `clickhouse server`):\n"+
			"  curl https://clickhouse.com/ | sh && sudo install ./clickhouse /usr/local/bin/\n"+
			"or set CLICKHOUSE_ADDR to a server you have (host:port of its native protocol).")
	}
	return b.String()
}
