// Command devstack runs reftrail on one machine for development and demos: an
// embedded Kafka (franz-go's kfake, persisted to a data directory so a restart
// keeps the data) and the service binaries as child processes, each given the
// environment it needs. It waits until every service is ready, prints where
// they listen, and on SIGINT or SIGTERM stops exactly the processes it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Development defaults, used only when the variable is not set. They are not
// secrets: a real deployment sets its own.
var devDefaults = map[string]string{
	"META_APP_SECRETS":  "dev-app-secret",
	"META_VERIFY_TOKEN": "dev-verify-token",
}

// serviceSpec is a service devstack runs: its binary and the variable and
// default of the address that serves its /readyz.
type serviceSpec struct {
	name    string
	addrVar string
	addr    string
}

var specs = []serviceSpec{
	{name: "ingest", addrVar: "INGEST_ADDR", addr: "127.0.0.1:8080"},
	{name: "enrich", addrVar: "METRICS_ADDR", addr: "127.0.0.1:9101"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("devstack", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data", ".reftrail", "directory for the embedded Kafka's data and the services' logs")
	binDir := flags.String("bin", "bin", "directory holding the service binaries")
	kafkaPort := flags.Int("kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1 (ignored when KAFKA_BROKERS is set)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	env := map[string]string{}
	for k, v := range devDefaults {
		if getenv(k) == "" {
			env[k] = v
		}
	}
	if brokers := getenv("KAFKA_BROKERS"); brokers != "" {
		fmt.Fprintf(stdout, "Kafka: using KAFKA_BROKERS=%s\n", brokers)
	} else {
		kafkaDir := filepath.Join(*dataDir, "kafka")
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(*kafkaPort), kfake.DataDir(kafkaDir))
		if err != nil {
			return fmt.Errorf("starting embedded kafka on 127.0.0.1:%d: %w", *kafkaPort, err)
		}
		defer cluster.Close()
		env["KAFKA_BROKERS"] = strings.Join(cluster.ListenAddrs(), ",")
		fmt.Fprintf(stdout, "Kafka: embedded at %s, data in %s\n", env["KAFKA_BROKERS"], kafkaDir)
	}

	logDir := filepath.Join(*dataDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("creating log directory: %w", err)
	}
	var running []*service
	defer func() {
		// Stop in reverse order: consumers before what feeds them.
		for i := len(running) - 1; i >= 0; i-- {
			running[i].stop(stderr)
		}
	}()
	exited := make(chan *service, len(specs))
	for _, spec := range specs {
		addr := spec.addr
		if v := getenv(spec.addrVar); v != "" && spec.addrVar == "INGEST_ADDR" {
			addr = v // METRICS_ADDR is per service, so only INGEST_ADDR is taken from the environment
		}
		svcEnv := map[string]string{spec.addrVar: addr}
		for k, v := range env {
			svcEnv[k] = v
		}
		s, err := startService(filepath.Join(*binDir, spec.name), svcEnv, logDir, exited)
		if err != nil {
			return err
		}
		running = append(running, s)
		if err := waitReady(ctx, "http://"+dialAddr(addr)+"/readyz", s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ready on %s (log %s)\n", spec.name, dialAddr(addr), s.logPath)
	}
	ingestAddr := dialAddr(running[0].env["INGEST_ADDR"])
	fmt.Fprintf(stdout, `Webhooks: http://%s/webhook
  verify token: %s
  app secrets:  %s
Stop with Ctrl-C.
`, ingestAddr, valueOr(env, getenv, "META_VERIFY_TOKEN"), valueOr(env, getenv, "META_APP_SECRETS"))

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping")
		return nil
	case s := <-exited:
		return fmt.Errorf("%s exited: %v (see %s)", s.name, s.err, s.logPath)
	}
}

func valueOr(env map[string]string, getenv func(string) string, name string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return getenv(name)
}

// dialAddr turns a listen address such as ":8080" into one a client can dial.
func dialAddr(listen string) string {
	if strings.HasPrefix(listen, ":") {
		return "127.0.0.1" + listen
	}
	return listen
}

// service is one child process that devstack started and must stop.
type service struct {
	name    string
	env     map[string]string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

// startService starts the binary at path with the environment plus env; its
// output goes to a log file. exited receives the service if it ends.
func startService(path string, env map[string]string, logDir string, exited chan<- *service) (*service, error) {
	name := filepath.Base(path)
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	cmd := exec.Command(path)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (run make build first): %w", path, err)
	}
	s := &service{name: name, env: env, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.done)
		exited <- s
	}()
	return s, nil
}

// stop sends SIGTERM to the process devstack started (by its pid, never by
// name) and waits for it, killing it if it has not exited in time.
func (s *service) stop(stderr io.Writer) {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(stderr, "%s (pid %d) did not stop in 15s; killing it\n", s.name, s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		<-s.done
	}
}

func waitReady(ctx context.Context, url string, s *service) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready: %v (see %s)", s.name, s.err, s.logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 60s (pid %d, see %s)", url, s.cmd.Process.Pid, s.logPath)
}
