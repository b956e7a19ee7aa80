// Package e2e tests reftrail whole: kfake, a real ClickHouse, and ingest,
// enrich and sink running as the binaries built from their main packages
// (whose main calls run), as child processes the tests can kill.
package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

const appSecret = "e2e-app-secret"

// binDir holds the service binaries, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "reftrail-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/reftrail/reftrail/ingest", "github.com/reftrail/reftrail/enrich", "github.com/reftrail/reftrail/sink")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the services: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	chtest.Main(m)
	os.RemoveAll(dir)
}

// pipeline is one reftrail: a Kafka, a ClickHouse database and the
// services, each a child process stopped when the test ends.
type pipeline struct {
	t       testing.TB
	ch      *chtest.Server // nil when sink writes elsewhere (a cluster)
	db      string
	brokers string
	// common is every service's environment; chEnv is sink's ClickHouse.
	common, chEnv []string
	logDir        string
	services      map[string]*service
	// ingestAddr is ingest's public port; its services entry has the
	// METRICS_ADDR that serves /readyz.
	ingestAddr string
}

// service is one instance of a service binary and the environment it runs
// with.
type service struct {
	name    string // "enrich", or "enrich-2" when several run
	bin     string // "enrich"
	env     []string
	addr    string // serves /readyz
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// newPipeline starts one instance of each service on a new database of ch;
// sinkEnv overrides sink's settings (FLUSH_INTERVAL=200ms unless given).
func newPipeline(t testing.TB, ch *chtest.Server, sinkEnv ...string) *pipeline {
	t.Helper()
	db := ch.NewDatabase(t)
	p := preparePipeline(t, db, 3, []string{"CLICKHOUSE_ADDR=" + ch.Addr, "CLICKHOUSE_DATABASE=" + db,
		"CLICKHOUSE_USERNAME=" + ch.Username, "CLICKHOUSE_PASSWORD=" + ch.Password})
	p.ch = ch
	p.addEnrich("enrich")
	p.addSink("sink", sinkEnv...)
	for _, name := range []string{"ingest", "enrich", "sink"} {
		p.start(name)
	}
	return p
}

// preparePipeline makes a Kafka whose topics get partitions, and ingest's
// settings, and remembers chEnv (CLICKHOUSE_* of database db) for the sinks;
// add the other services with addEnrich and addSink, then start each.
func preparePipeline(t testing.TB, db string, partitions int, chEnv []string) *pipeline {
	t.Helper()
	brokers := strings.Join(kafkatest.Brokers(t), ",")
	p := &pipeline{t: t, db: db, brokers: brokers, chEnv: chEnv, logDir: t.TempDir(), services: map[string]*service{},
		common: []string{"KAFKA_BROKERS=" + brokers, "TOPIC_PARTITIONS=" + strconv.Itoa(partitions), "LOG_LEVEL=warn"}}
	p.ingestAddr = testenv.FreeAddr(t)
	metricsAddr := testenv.FreeAddr(t)
	p.add("ingest", "ingest", metricsAddr, []string{"INGEST_ADDR=" + p.ingestAddr, "METRICS_ADDR=" + metricsAddr,
		"META_APP_SECRETS=" + appSecret, "META_VERIFY_TOKEN=e2e-token"})
	return p
}

// addEnrich adds an enrich instance whose transactional id, unique and
// stable across its restarts, is derived from its name.
func (p *pipeline) addEnrich(name string) {
	addr := testenv.FreeAddr(p.t)
	p.add(name, "enrich", addr, []string{"METRICS_ADDR=" + addr, "ENRICH_TRANSACTIONAL_ID=e2e-" + p.db + "-" + name})
}

// addSink adds a sink instance; env overrides its settings
// (FLUSH_INTERVAL=200ms unless given).
func (p *pipeline) addSink(name string, env ...string) {
	addr := testenv.FreeAddr(p.t)
	p.add(name, "sink", addr, slices.Concat([]string{"METRICS_ADDR=" + addr, "FLUSH_INTERVAL=200ms"}, p.chEnv, env))
}

func (p *pipeline) add(name, bin, addr string, env []string) {
	p.services[name] = &service{
		name: name, bin: bin, addr: addr, env: append(append(os.Environ(), p.common...), env...),
		logPath: filepath.Join(p.logDir, name+".log"),
	}
}

// start starts the service and waits until it is ready.
func (p *pipeline) start(name string) {
	p.t.Helper()
	s := p.services[name]
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	s.cmd = exec.Command(filepath.Join(binDir, s.bin))
	s.cmd.Env = s.env
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", name, err)
	}
	cmd, exited := s.cmd, make(chan struct{})
	s.exited = exited
	go func() {
		cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	// Stop exactly this process, by its pid, however the test ends.
	p.t.Cleanup(func() { stopProcess(cmd, exited) })
	p.waitReady(s)
}

func (p *pipeline) waitReady(s *service) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.exited:
			p.t.Fatalf("%s exited before it was ready:\n%s", s.name, p.logTail(s))
		case <-time.After(100 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s not ready after 60s:\n%s", s.name, p.logTail(s))
}

// kill ends the service with SIGKILL: no flush, no commit, no goodbye.
func (p *pipeline) kill(name string) {
	s := p.services[name]
	s.cmd.Process.Kill()
	<-s.exited
}

func stopProcess(cmd *exec.Cmd, exited chan struct{}) {
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

func (p *pipeline) logTail(s *service) string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// logTails returns the log tails of every instance of bin.
func (p *pipeline) logTails(bin string) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(p.services)) {
		if s := p.services[name]; s.bin == bin {
			fmt.Fprintf(&b, "%s log:\n%s\n", name, p.logTail(s))
		}
	}
	return b.String()
}

func (p *pipeline) ingestURL() string { return "http://" + p.ingestAddr + "/webhook" }

// send posts the plan's webhooks through ingest, retrying 503s as Meta does.
func (p *pipeline) send(ctx context.Context, webhooks []traffic.Webhook, opts traffic.SendOptions) error {
	_, err := traffic.Send(ctx, http.DefaultClient, p.ingestURL(), appSecret, webhooks, opts)
	return err
}

// stored is what ClickHouse holds, as the queries that count see it.
type stored struct {
	Events      map[event.Kind]int
	DeadLetters map[meta.Reason]int
}

func (p *pipeline) stored(ctx context.Context, conn driver.Conn) (stored, error) {
	s := stored{Events: map[event.Kind]int{}, DeadLetters: map[meta.Reason]int{}}
	rows, err := conn.Query(ctx, "SELECT kind, uniqExact(event_id) FROM events GROUP BY kind")
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var kind string
		var n uint64
		if err := rows.Scan(&kind, &n); err != nil {
			return s, err
		}
		s.Events[event.Kind(kind)] = int(n)
	}
	rows.Close()
	rows, err = conn.Query(ctx, "SELECT reason, count() FROM dead_letters FINAL GROUP BY reason")
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var reason string
		var n uint64
		if err := rows.Scan(&reason, &n); err != nil {
			return s, err
		}
		s.DeadLetters[meta.Reason(reason)] = int(n)
	}
	return s, rows.Err()
}

// checkStored waits until ClickHouse holds exactly the plan's events and dead
// letters, counted as the queries count (distinct event ids), then checks the
// funnel query against the plan.
func (p *pipeline) checkStored(want traffic.Expected, timeout time.Duration) {
	p.t.Helper()
	p.checkStoredIn(p.ch.Conn(p.t, p.db), want, timeout)
}

// checkStoredIn is checkStored reading through conn, whose default database
// is the pipeline's.
func (p *pipeline) checkStoredIn(conn driver.Conn, want traffic.Expected, timeout time.Duration) {
	p.t.Helper()
	ctx := context.Background()
	wantStored := stored{Events: want.Events, DeadLetters: want.DeadLetters}
	var got stored
	var err error
	deadline := time.Now().Add(timeout)
	for {
		got, err = p.stored(ctx, conn)
		if err == nil && cmp.Equal(wantStored, got) {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("after %s ClickHouse holds (-want +got):\n%s(err %v)\n%s",
				timeout, cmp.Diff(wantStored, got), err, p.logTails("sink"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	funnel, err := traffic.QueryFunnel(ctx, conn, want.FromMs, want.ToMs)
	if err != nil {
		p.t.Fatal(err)
	}
	if diff := cmp.Diff(want.Funnel, funnel); diff != "" {
		p.t.Errorf("funnel.sql (-plan +ClickHouse):\n%s", diff)
	}
}

// TestIntegrationPipeline sends a generated traffic set through ingest over
// HTTP and checks that ClickHouse holds every event exactly once, the dead
// letters hold exactly the bad payloads, and the funnel is the plan's.
func TestIntegrationPipeline(t *testing.T) {
	p := newPipeline(t, chtest.Start(t))
	plan, err := traffic.NewPlan(traffic.Options{Seed: 11, Participants: 400})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.send(context.Background(), plan.Webhooks(), traffic.SendOptions{Concurrency: 16, Retries: 5}); err != nil {
		t.Fatal(err)
	}
	p.checkStored(plan.Expected(), 60*time.Second)
}

// TestIntegrationPipelineFaults sends a stream while enrich and sink are each
// killed (SIGKILL) and restarted, and ClickHouse is stopped for a while and
// restarted: ClickHouse still ends with every event exactly once and nothing
// lost.
func TestIntegrationPipelineFaults(t *testing.T) {
	ch := chtest.StartLocal(t)
	p := newPipeline(t, ch)
	plan, err := traffic.NewPlan(traffic.Options{Seed: 12, Participants: 2000})
	if err != nil {
		t.Fatal(err)
	}
	webhooks := plan.Webhooks()
	// Spread the stream over about 12 s so every fault lands in its middle.
	rate := float64(len(webhooks)) / 12
	sent := make(chan error, 1)
	go func() {
		sent <- p.send(context.Background(), webhooks, traffic.SendOptions{Rate: rate, Concurrency: 16, Retries: 8})
	}()

	time.Sleep(2 * time.Second)
	p.kill("enrich")
	time.Sleep(time.Second)
	p.start("enrich")

	time.Sleep(2 * time.Second)
	p.kill("sink")
	time.Sleep(time.Second)
	p.start("sink")

	time.Sleep(time.Second)
	ch.Stop(t)
	time.Sleep(3 * time.Second)
	ch.Restart(t)

	if err := <-sent; err != nil {
		t.Fatalf("sending: %v", err)
	}
	p.checkStored(plan.Expected(), 120*time.Second)
}
