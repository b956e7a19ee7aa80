package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chlocal"
)

// clickhouseImage is the image devstack suggests when Docker is the only way
// to get ClickHouse: the release chtest's container mode tests against.
const clickhouseImage = "clickhouse/clickhouse-server:25.8"

// aptInstall is Debian's ClickHouse (18.16 on Debian 11 and 12), which reftrail's
// DDL and queries support.
const aptInstall = "apt-get install -y clickhouse-server clickhouse-client"

// host is what chooseClickHouse finds out about the machine, a field per
// question so that tests can answer without binaries, Docker or root.
type host struct {
	findBinary    func() ([]string, error)
	dockerAnswers func(ctx context.Context) bool
	debian        bool
	root          bool
	// install runs apt-get update and aptInstall.
	install func(ctx context.Context) error
}

// realHost looks at this machine; install writes apt-get's output to out.
func realHost(out io.Writer) host {
	_, err := os.Stat("/etc/debian_version")
	return host{
		findBinary:    chlocal.FindBinary,
		dockerAnswers: dockerAnswers,
		debian:        err == nil,
		root:          os.Geteuid() == 0,
		install: func(ctx context.Context) error {
			for _, args := range [][]string{{"apt-get", "update"}, strings.Fields(aptInstall)} {
				fmt.Fprintf(out, "running: %s\n", strings.Join(args, " "))
				cmd := exec.CommandContext(ctx, args[0], args[1:]...)
				cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
				cmd.Stdout, cmd.Stderr = out, out
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("running %s: %w", strings.Join(args, " "), err)
				}
			}
			return nil
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
// else a binary on PATH, else (with install, on Debian, as root) Debian's
// package, installed now. Without any, the error says exactly how to get one
// on this machine: with Docker, from Debian's packages, or as the official
// single binary. ports are the ones devstack would give a local server.
func chooseClickHouse(ctx context.Context, getenv func(string) string, h host, install bool, ports chlocal.Ports) (clickhouseChoice, error) {
	if addr := getenv("CLICKHOUSE_ADDR"); addr != "" {
		return clickhouseChoice{addr: addr}, nil
	}
	argv, findErr := h.findBinary()
	if findErr == nil {
		return clickhouseChoice{argv: argv}, nil
	}
	if !install {
		return clickhouseChoice{}, errors.New(howToGetClickHouse(ctx, h, ports, findErr))
	}
	switch {
	case !h.debian:
		return clickhouseChoice{}, fmt.Errorf("installing ClickHouse: -install uses Debian's package and this is not a Debian-family system (no /etc/debian_version)\n%s", howToGetClickHouse(ctx, h, ports, findErr))
	case !h.root:
		return clickhouseChoice{}, fmt.Errorf("installing ClickHouse: -install runs apt-get and needs root; run\n  sudo apt-get update && sudo %s\nand start devstack again", aptInstall)
	}
	if err := h.install(ctx); err != nil {
		return clickhouseChoice{}, fmt.Errorf("installing ClickHouse: %w", err)
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
	case h.dockerAnswers(ctx):
		fmt.Fprintf(&b, "Docker answers here; start ClickHouse in a container (its data kept in the volume reftrail-clickhouse):\n"+
			"  docker run -d --name reftrail-clickhouse -p %s:9000 -p 127.0.0.1:%d:8123 -e CLICKHOUSE_SKIP_USER_SETUP=1 -v reftrail-clickhouse:/var/lib/clickhouse %s\n"+
			"then run devstack with it:\n"+
			"  CLICKHOUSE_ADDR=%s make run",
			addr, ports.HTTP, clickhouseImage, addr)
	case h.debian:
		fmt.Fprintf(&b, "Install Debian's ClickHouse (devstack then runs it on its own data directory):\n"+
			"  sudo apt-get update && sudo %s\n"+
			"or, as root, let devstack install it: REFTRAIL_INSTALL_CLICKHOUSE=1 make run (or bin/devstack -install)",
			aptInstall)
	default:
		fmt.Fprintf(&b, "Get ClickHouse's single binary and put it on PATH (devstack runs it as `clickhouse server`):\n"+
			"  curl https://clickhouse.com/ | sh && sudo install ./clickhouse /usr/local/bin/\n"+
			"or set CLICKHOUSE_ADDR to a server you have (host:port of its native protocol).")
	}
	return b.String()
}

// listen is an address a part of the stack will listen on and the setting
// that moves it: a devstack flag (a port, or an address for the services'
// flags) or INGEST_ADDR.
type listen struct {
	addr, what, setting string
}

// checkPorts fails with the setting to change when an address is taken, or
// given twice. Each part would report a taken port only in its own log, if at
// all.
func checkPorts(listens []listen) error {
	seen := map[string]listen{}
	for _, l := range listens {
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			return fmt.Errorf("%s's address %q (%s): %w", l.what, l.addr, l.setting, err)
		}
		if other, ok := seen[port]; ok {
			return fmt.Errorf("%s and %s both want port %s: change %s or %s", other.what, l.what, port, other.setting, l.setting)
		}
		seen[port] = l
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("port %s for %s is in use (`ss -ltnp 'sport = :%s'` shows by what): pick another with %s, e.g. %s%s",
				port, l.what, port, l.setting, example(l.setting, host, port), alternative(l))
		}
		ln.Close()
	}
	return nil
}

// example is a command that moves a part to port+10000 (or port-10000).
func example(setting, host, port string) string {
	p, _ := strconv.Atoi(port)
	if p += 10000; p > 65535 {
		p -= 20000
	}
	if host == "" {
		host = "127.0.0.1"
	}
	value := net.JoinHostPort(host, strconv.Itoa(p))
	switch setting {
	case "INGEST_ADDR":
		return "INGEST_ADDR=" + value + " make run"
	case "-kafka-port", "-clickhouse-port", "-clickhouse-http-port":
		value = strconv.Itoa(p)
	}
	return "make run DEVSTACK_FLAGS='" + setting + " " + value + "'"
}

// alternative offers a server already on a Kafka or ClickHouse port to the
// stack instead.
func alternative(l listen) string {
	switch l.setting {
	case "-clickhouse-port":
		return "; or, if a ClickHouse server of yours listens there, use it with CLICKHOUSE_ADDR=" + dialAddr(l.addr)
	case "-kafka-port":
		return "; or, if a Kafka of yours listens there, use it with KAFKA_BROKERS=" + dialAddr(l.addr)
	}
	return ""
}
