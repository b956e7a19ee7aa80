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
	"slices"
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
	"INGEST_ADDR":       "127.0.0.1:8080",
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
	binDir := flags.String("bin", "bin", "directory holding the ingest binary")
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
	ingestAddr := valueOr(env, getenv, "INGEST_ADDR")
	ingest, err := startService(filepath.Join(*binDir, "ingest"), env, logDir)
	if err != nil {
		return err
	}
	defer ingest.stop(stderr)

	readyURL := "http://" + dialAddr(ingestAddr) + "/readyz"
	if err := waitReady(ctx, readyURL, ingest); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `ingest: ready, webhooks at http://%s/webhook (logs in %s)
  verify token: META_VERIFY_TOKEN=%s
  app secrets:  META_APP_SECRETS=%s
Stop with Ctrl-C.
`, dialAddr(ingestAddr), logDir, valueOr(env, getenv, "META_VERIFY_TOKEN"), valueOr(env, getenv, "META_APP_SECRETS"))

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping")
		return nil
	case <-ingest.exited:
		return fmt.Errorf("ingest exited: %v (see %s)", ingest.err, ingest.logPath)
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
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

func startService(path string, env map[string]string, logDir string) (*service, error) {
	name := filepath.Base(path)
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", logPath, err)
	}
	cmd := exec.Command(path)
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (run make build first): %w", path, err)
	}
	s := &service{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()
	return s, nil
}

// stop sends SIGTERM to the process devstack started (by its pid, never by
// name) and waits for it, killing it if it has not exited in time.
func (s *service) stop(stderr io.Writer) {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(stderr, "pid %d did not stop in 15s; killing it\n", s.cmd.Process.Pid)
		s.cmd.Process.Kill()
		<-s.exited
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
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready: %v (see %s)", filepath.Base(s.cmd.Path), s.err, s.logPath)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 60s (pid %d, see %s)", url, s.cmd.Process.Pid, s.logPath)
}
