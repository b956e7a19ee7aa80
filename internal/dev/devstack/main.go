// Command devstack runs reftrail on one machine for development and demos: an
// embedded Kafka (franz-go's kfake, persisted to a data directory so a restart
// keeps the data), a ClickHouse, and the service binaries (ingest, enrich,
// sink, console, and notify when NOTIFY_URLS is set) as child processes, each
// given the environment it needs. It waits until every service is ready,
// prints where ingest and the console listen and how to query ClickHouse, and
// on SIGINT, SIGTERM or SIGHUP (a closed terminal) stops exactly the
// processes it started: the services in reverse order, then ClickHouse, then
// Kafka. On Linux its children also get a parent-death signal, so even a
// devstack killed with SIGKILL leaves none running; a ClickHouse an earlier
// devstack left on the data directory anyway is stopped at start. Every port
// is checked before anything starts, and a taken one is named with the flag or
// variable that moves it.
//
// ClickHouse is CLICKHOUSE_ADDR when set; else a clickhouse-server (or
// clickhouse) binary, run on the data directory with fixed ports so a restart
// keeps the data; else, as root on a Debian-family system, Debian's package,
// installed there and then; else devstack stops and prints the one command
// that gets one: Debian's package with sudo, a `docker run` when Docker
// answers, the official binary otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/reftrail/reftrail/internal/dev/childproc"
	"github.com/reftrail/reftrail/internal/dev/chlocal"
)

// Development defaults, used only when the variable is not set. They are not
// secrets: a real deployment sets its own.
var devDefaults = map[string]string{
	"META_APP_SECRETS":  "dev-app-secret",
	"META_VERIFY_TOKEN": "dev-verify-token",
}

// devNotifySecret signs notify's webhooks when NOTIFY_URLS is set without
// NOTIFY_SECRET: base64 of "reftrail notify development only".
const devNotifySecret = "whsec_cmVmdHJhaWwgbm90aWZ5IGRldmVsb3BtZW50IG9ubHk="

// serviceSpec is a service devstack runs: its binary, the variable and
// value of the address that serves its /readyz, and settings of its own.
type serviceSpec struct {
	name    string
	addrVar string
	addr    string
	env     map[string]string
}

func main() {
	// SIGHUP too: closing the terminal must stop what devstack started. A
	// broken stdout (`make run | tee log` after tee ended on Ctrl-C) must not
	// kill devstack mid-shutdown, so SIGPIPE only fails the write.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("devstack", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data", ".reftrail", "directory for the embedded Kafka's and the local ClickHouse's data and the services' logs")
	binDir := flags.String("bin", "bin", "directory holding the service binaries")
	kafkaPort := flags.Int("kafka-port", 9092, "port of the embedded Kafka on 127.0.0.1 (ignored when KAFKA_BROKERS is set)")
	chPort := flags.Int("clickhouse-port", 9000, "native protocol port of the local ClickHouse on 127.0.0.1 (ignored when CLICKHOUSE_ADDR is set)")
	chHTTPPort := flags.Int("clickhouse-http-port", 8123, "HTTP port of the local ClickHouse on 127.0.0.1 (ignored when CLICKHOUSE_ADDR is set)")
	install := flags.Bool("install", true, "without ClickHouse, as root on a Debian-family system, install Debian's clickhouse-server and clickhouse-client with apt-get (-install=false prints the command instead)")
	ingestMetricsAddr := flags.String("ingest-metrics-addr", "127.0.0.1:9100", "ingest's METRICS_ADDR: /readyz and /metrics (INGEST_ADDR, default 127.0.0.1:8080, serves /webhook)")
	enrichAddr := flags.String("enrich-addr", "127.0.0.1:9101", "enrich's METRICS_ADDR: /readyz and /metrics")
	sinkAddr := flags.String("sink-addr", "127.0.0.1:9102", "sink's METRICS_ADDR: /readyz and /metrics")
	consoleAddr := flags.String("console-addr", valueOr(getenv("CONSOLE_ADDR"), "127.0.0.1:8090"), "the console's CONSOLE_ADDR: pages and API (default from CONSOLE_ADDR)")
	consoleMetricsAddr := flags.String("console-metrics-addr", "127.0.0.1:9103", "the console's METRICS_ADDR: /readyz and /metrics")
	notifyAddr := flags.String("notify-addr", "127.0.0.1:9104", "notify's METRICS_ADDR: /readyz and /metrics (notify runs only when NOTIFY_URLS is set)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: every setting is a flag", flags.Args())
	}

	// ClickHouse is chosen first, so that a machine without one learns it
	// before anything starts.
	chPorts := chlocal.Ports{Native: *chPort, HTTP: *chHTTPPort}
	choice, err := chooseClickHouse(ctx, getenv, realHost(filepath.Join(*dataDir, "logs", "apt-get.log")), *install, chPorts, stdout)
	if err != nil {
		return err
	}

	ingestAddr := getenv("INGEST_ADDR")
	if ingestAddr == "" {
		ingestAddr = "127.0.0.1:8080"
	}
	var chServer *chlocal.Server
	if choice.addr == "" {
		if chServer, err = chlocal.New(choice.argv, filepath.Join(*dataDir, "clickhouse"), chPorts); err != nil {
			return err
		}
		// A server an earlier devstack left behind holds the ports and the
		// data directory; it is ours to stop.
		pid, err := chServer.StopLeftover()
		if err != nil {
			return err
		}
		if pid != 0 {
			fmt.Fprintf(stdout, "ClickHouse: stopped the server (pid %d) an earlier devstack left running on %s\n", pid, chServer.Dir())
		}
	}
	// Every port is checked before anything starts, so a taken one is
	// reported with the setting that moves it, not as a service that died.
	var listens []listen
	if getenv("KAFKA_BROKERS") == "" {
		listens = append(listens, listen{fmt.Sprintf("127.0.0.1:%d", *kafkaPort), "the embedded Kafka", "-kafka-port"})
	}
	if chServer != nil {
		listens = append(listens,
			listen{fmt.Sprintf("127.0.0.1:%d", chPorts.Native), "ClickHouse", "-clickhouse-port"},
			listen{fmt.Sprintf("127.0.0.1:%d", chPorts.HTTP), "ClickHouse's HTTP interface", "-clickhouse-http-port"})
	}
	listens = append(listens,
		listen{ingestAddr, "ingest", "INGEST_ADDR"},
		listen{*ingestMetricsAddr, "ingest's /metrics and /readyz", "-ingest-metrics-addr"},
		listen{*enrichAddr, "enrich", "-enrich-addr"},
		listen{*sinkAddr, "sink", "-sink-addr"},
		listen{*consoleAddr, "the console", "-console-addr"},
		listen{*consoleMetricsAddr, "the console's /metrics and /readyz", "-console-metrics-addr"})
	if getenv("NOTIFY_URLS") != "" {
		listens = append(listens, listen{*notifyAddr, "notify's /metrics and /readyz", "-notify-addr"})
	}
	if err := checkPorts(listens); err != nil {
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
			return fmt.Errorf("starting the embedded Kafka on 127.0.0.1:%d (another port: -kafka-port; a cluster of your own: KAFKA_BROKERS): %w", *kafkaPort, err)
		}
		defer cluster.Close()
		env["KAFKA_BROKERS"] = strings.Join(cluster.ListenAddrs(), ",")
		fmt.Fprintf(stdout, "Kafka: embedded at %s, data in %s\n", env["KAFKA_BROKERS"], kafkaDir)
	}

	var chExited <-chan struct{}
	chAddr := choice.addr
	if chAddr != "" {
		if err := chlocal.WaitReady(ctx, chAddr, getenv("CLICKHOUSE_USERNAME"), getenv("CLICKHOUSE_PASSWORD"), 30*time.Second, nil); err != nil {
			return fmt.Errorf("reaching CLICKHOUSE_ADDR: %w", err)
		}
		fmt.Fprintf(stdout, "ClickHouse: using CLICKHOUSE_ADDR=%s\n", chAddr)
	} else {
		srv := chServer
		if err := srv.Start(ctx); err != nil {
			return err
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}()
		chAddr, chExited = srv.Addr(), srv.Exited()
		fmt.Fprintf(stdout, "ClickHouse: %s (pid %d) on %s, HTTP on 127.0.0.1:%d, data and logs in %s\n",
			strings.Join(choice.argv, " "), srv.Pid(), chAddr, chPorts.HTTP, srv.Dir())
	}

	// ingest spools webhooks to the data directory while Kafka is down, as a
	// deployment should; the directory is ingest's alone (it is locked).
	spoolDir := getenv("SPOOL_DIR")
	if spoolDir == "" {
		spoolDir = filepath.Join(*dataDir, "spool")
	}
	ingestEnv := map[string]string{"INGEST_ADDR": ingestAddr, "SPOOL_DIR": spoolDir}
	// The data deletion callback answers with a status URL on ingest's
	// public address; locally that is where ingest listens.
	if getenv("INGEST_PUBLIC_URL") == "" {
		ingestEnv["INGEST_PUBLIC_URL"] = "http://" + dialAddr(ingestAddr)
	}
	// Started in this order and stopped in reverse: consumers before what
	// feeds them.
	specs := []serviceSpec{
		{name: "ingest", addrVar: "METRICS_ADDR", addr: *ingestMetricsAddr, env: ingestEnv},
		{name: "enrich", addrVar: "METRICS_ADDR", addr: *enrichAddr},
		{name: "sink", addrVar: "METRICS_ADDR", addr: *sinkAddr, env: map[string]string{"CLICKHOUSE_ADDR": chAddr}},
		{name: "console", addrVar: "METRICS_ADDR", addr: *consoleMetricsAddr, env: map[string]string{"CLICKHOUSE_ADDR": chAddr, "CONSOLE_ADDR": *consoleAddr}},
	}
	if getenv("NOTIFY_URLS") != "" {
		notifyEnv := map[string]string{}
		if getenv("NOTIFY_SECRET") == "" {
			notifyEnv["NOTIFY_SECRET"] = devNotifySecret
		}
		specs = append(specs, serviceSpec{name: "notify", addrVar: "METRICS_ADDR", addr: *notifyAddr, env: notifyEnv})
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
		svcEnv := map[string]string{spec.addrVar: spec.addr}
		for k, v := range env {
			svcEnv[k] = v
		}
		for k, v := range spec.env {
			svcEnv[k] = v
		}
		s, err := startService(filepath.Join(*binDir, spec.name), svcEnv, logDir, exited)
		if err != nil {
			return err
		}
		running = append(running, s)
		if err := waitReady(ctx, "http://"+dialAddr(spec.addr)+"/readyz", s); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ready, /readyz and /metrics on %s (pid %d, log %s)\n", spec.name, dialAddr(spec.addr), s.cmd.Process.Pid, s.logPath)
	}
	if getenv("NOTIFY_URLS") != "" {
		printNotify(stdout, getenv)
	}
	printUsage(stdout, getenv, env, dialAddr(ingestAddr), dialAddr(*consoleAddr), chAddr)

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping")
		return nil
	case s := <-exited:
		return fmt.Errorf("%s exited: %v; the end of %s:\n%s", s.name, s.err, s.logPath, logTail(s.logPath, 5))
	case <-chExited:
		return fmt.Errorf("ClickHouse exited (see its logs in %s)", filepath.Join(*dataDir, "clickhouse"))
	}
}

// shown is a setting as printed: the development default itself, or only its
// source when the user set it, since then it may be a real secret.
func shown(env map[string]string, name string) string {
	if v, ok := env[name]; ok {
		return v
	}
	return "from " + name + " (not printed)"
}

// printUsage tells where to send webhooks, where the console is, how to
// query ClickHouse and how to run the demo against this stack.
func printUsage(w io.Writer, getenv func(string) string, env map[string]string, ingestAddr, consoleAddr, chAddr string) {
	fmt.Fprintf(w, `Webhooks: http://%s/webhook
  verify token: %s
  app secrets:  %s
`, ingestAddr, shown(env, "META_VERIFY_TOKEN"), shown(env, "META_APP_SECRETS"))
	signIn := "no sign-in on this machine"
	if getenv("CONSOLE_TOKEN") != "" {
		signIn = "sign in with CONSOLE_TOKEN (not printed)"
	}
	fmt.Fprintf(w, "Console: http://%s/links (links, QR codes and campaign funnels; %s)\n", consoleAddr, signIn)

	database := getenv("CLICKHOUSE_DATABASE")
	if database == "" {
		database = "reftrail"
	}
	host, port, err := net.SplitHostPort(chAddr)
	if err != nil {
		host, port = chAddr, "9000"
	}
	client := "clickhouse-client --host " + host + " --port " + port
	if user := getenv("CLICKHOUSE_USERNAME"); user != "" && user != "default" {
		client += " --user " + user
	}
	if getenv("CLICKHOUSE_PASSWORD") != "" {
		client += ` --password "$CLICKHOUSE_PASSWORD"`
	}
	fmt.Fprintf(w, `Query ClickHouse (database %s; the queries of schemas/clickhouse/queries/ run there), for example:
  %s --database %s --query 'SELECT kind, uniqExact(event_id) AS events FROM events GROUP BY kind ORDER BY kind'
`, database, client, database)

	// reftrailctl reads the services' variables; name those that differ from
	// its defaults.
	var ctlEnv []string
	if brokers := env["KAFKA_BROKERS"]; brokers != "" && brokers != "127.0.0.1:9092" {
		ctlEnv = append(ctlEnv, "KAFKA_BROKERS="+brokers)
	}
	if chAddr != "127.0.0.1:9000" {
		ctlEnv = append(ctlEnv, "CLICKHOUSE_ADDR="+chAddr)
	}
	ctl := strings.Join(append(ctlEnv, "bin/reftrailctl"), " ")
	fmt.Fprintf(w, "Operate (docs/operations.md): %s query lists the dashboard queries; %s query funnel from=7d runs one.\n", ctl, ctl)

	demo := "make demo"
	if chAddr != "127.0.0.1:9000" {
		demo = "CLICKHOUSE_ADDR=" + chAddr + " " + demo
	}
	if ingestAddr != "127.0.0.1:8080" {
		demo += " DEMO_FLAGS='-url http://" + ingestAddr + "/webhook'"
	}
	fmt.Fprintf(w, "Demo: in another terminal, %s sends demo traffic and prints the campaign funnel from ClickHouse.\nStop with Ctrl-C.\n", demo)
}

// printNotify tells how to see what notify sends, with the secret it signs
// with when that is the development default.
func printNotify(w io.Writer, getenv func(string) string) {
	secret := devNotifySecret + " (development default)"
	receiver := "NOTIFY_SECRET=" + devNotifySecret + " make receiver"
	if getenv("NOTIFY_SECRET") != "" {
		secret = "from NOTIFY_SECRET (not printed)"
		receiver = "make receiver"
	}
	fmt.Fprintf(w, "Webhooks for subscribers: notify POSTs every referral to NOTIFY_URLS, signed with %s.\n  A receiver that verifies and prints them: %s\n", secret, receiver)
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
	if err := childproc.Start(cmd); err != nil {
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
			return fmt.Errorf("%s exited before it was ready: %v; the end of %s:\n%s", s.name, s.err, s.logPath, logTail(s.logPath, 5))
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 60s (pid %d, see %s)", url, s.cmd.Process.Pid, s.logPath)
}

// valueOr returns v, or def when v is empty.
func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// logTail returns the last n lines of the log at path, each indented, or a
// note saying why there are none.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}
