package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// BenchmarkIntegrationSinkThroughput measures events per second from the
// events topic into ClickHouse, and the limit the same server sets in the same
// run: the same rows inserted directly with chstore.InsertEvents in batches of
// BATCH_ROWS. sink runs as a child process so that its peak resident memory
// (VmHWM) is its own, not the in-process Kafka's. The events are the demo
// traffic planner's, decoded as enrich decodes them: referrals (a third of
// them from ads, with their context), messages, postbacks and opt-ins, with
// the sizes and the share of empty columns real rows have. Each sub-benchmark
// runs once whatever b.N; SINK_BENCH_EVENTS sets the backlog (default 500000):
//
//	go test -run '^$' -bench SinkThroughput -benchtime 1x ./sink
//
// storage=disk uses the server chtest.Start finds, a local one keeping its
// data in the temporary directory. storage=tmpfs runs a local server of its
// own on /dev/shm: each INSERT creates about 150 files (a part per table, two
// or three files per column), and on an ext4 disk whose inode allocator is
// busy with recently deleted files, creating them dominates the server's time
// and its limit swings between runs; in memory the limit is set by the CPU,
// which is what the sink shares.
//
// Each storage runs the default BATCH_ROWS (10000) and 50000, a setting for
// catching up a backlog: fewer, larger parts leave ClickHouse less to merge.
func BenchmarkIntegrationSinkThroughput(b *testing.B) {
	n := 500000
	if v := os.Getenv("SINK_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("SINK_BENCH_EVENTS=%q: want a positive integer", v)
		}
	}
	evs := planEvents(b, n)
	records := eventRecords(b, evs)
	batchSizes := func(b *testing.B, srv *chtest.Server) {
		for _, rows := range []int{10000, 50000} {
			b.Run(fmt.Sprintf("batch_rows=%d", rows), func(b *testing.B) {
				benchSinkThroughput(b, srv, evs, records, rows)
			})
		}
	}
	b.Run("storage=disk", func(b *testing.B) {
		batchSizes(b, chtest.Start(b))
	})
	b.Run("storage=tmpfs", func(b *testing.B) {
		const shm = "/dev/shm"
		var fs syscall.Statfs_t
		if err := syscall.Statfs(shm, &fs); err != nil || fs.Type != tmpfsMagic {
			b.Skipf("%s is not a tmpfs here", shm)
		}
		batchSizes(b, chtest.StartLocalIn(b, shm))
	})
}

// planEvents returns the first n events of a demo traffic plan large enough
// to hold them, each with the raw coordinates enrich would give it.
func planEvents(b *testing.B, n int) []event.Event {
	b.Helper()
	plan, err := traffic.NewPlan(traffic.Options{Seed: 17, Participants: n/2 + 1000, MaxItemsPerBody: 100, RedeliveryFraction: -1, BadPayloads: -1})
	if err != nil {
		b.Fatal(err)
	}
	evs := make([]event.Event, 0, n)
	// Received after the plan's last event: Decode refuses times more than
	// a day after receipt.
	received := traffic.DefaultStart.AddDate(0, 0, 42).UnixMilli()
	for i, w := range plan.Webhooks() {
		res, err := meta.Decode(w.Body, meta.Source{ReceivedTime: received + int64(i), Partition: int32(i % partitions), Offset: int64(i / partitions)})
		if err != nil || len(res.Bad) > 0 {
			b.Fatalf("decoding the plan's body %d: %v %v", i, err, res.Bad)
		}
		evs = append(evs, res.Events...)
		if len(evs) >= n {
			return evs[:n]
		}
	}
	b.Fatalf("a plan of %d participants holds %d events, fewer than %d", n/2+1000, len(evs), n)
	return nil
}

// tmpfsMagic is the f_type statfs(2) reports for a tmpfs.
const tmpfsMagic = 0x01021994

// benchSinkThroughput produces records (the encoded evs) to a new cluster,
// then measures the direct limit, the sink, and the limit again, all in
// batches of batchRows on srv.
func benchSinkThroughput(b *testing.B, srv *chtest.Server, evs []event.Event, records []*kgo.Record, batchRows int) {
	n := len(evs)
	conn := srv.Conn(b, "")
	brokers := kafkatest.NewFake(b, kfake.SeedTopics(partitions, eventsTopic, dlqTopic)).ListenAddrs()
	produce(b, brokers, records)

	// The limit is measured before and after the sink's run, and the better
	// taken: the first inserts into a fresh server are slower. Each run
	// starts once the server has finished merging the parts of the run
	// before, which would otherwise take CPU from it.
	waitMerged(b, conn)
	directRate, directCPU := insertDirect(b, srv, evs, batchRows)

	waitMerged(b, conn)
	db := srv.NewDatabase(b)
	env := sinkEnv(brokers, srv, db, testenv.FreeAddr(b))
	env["BATCH_ROWS"] = strconv.Itoa(batchRows)
	start := time.Now()
	c := startChild(b, env, filepath.Join(b.TempDir(), "sink.log"))
	testenv.WaitReadyz(b, c.url, http.StatusOK, 60*time.Second)
	ready := time.Now()
	waitFor(b, 10*time.Minute, "every event in ClickHouse", func() bool {
		return count(b, conn, "SELECT count() FROM "+db+".events") == uint64(n)
	})
	end := time.Now()
	sinkRate := float64(n) / end.Sub(start).Seconds()
	peak := vmHWM(b, c.cmd.Process.Pid)
	cpu := processCPU(b, c.cmd.Process.Pid)
	waitMerged(b, conn)
	rate, cpu2 := insertDirect(b, srv, evs, batchRows)
	directRate, directCPU = max(directRate, rate), min(directCPU, cpu2)

	b.ReportMetric(sinkRate, "sink_events/s")
	b.ReportMetric(float64(n)/end.Sub(ready).Seconds(), "sink_after_ready_events/s")
	b.ReportMetric(directRate, "direct_events/s")
	b.ReportMetric(sinkRate/directRate, "ratio")
	b.ReportMetric(float64(peak)/(1<<20), "sink_peak_MiB")
	// CPU time per event is steadier than events/s on a shared machine.
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "sink_cpu_us/event")
	b.ReportMetric(float64(directCPU.Microseconds())/float64(n), "direct_cpu_us/event")
	b.Logf("%d events in batches of %d: sink %.0f/s (%.0f/s after ready), direct InsertEvents %.0f/s, ratio %.2f, sink VmHWM %.1f MiB",
		n, batchRows, sinkRate, float64(n)/end.Sub(ready).Seconds(), directRate, sinkRate/directRate, float64(peak)/(1<<20))
}

// insertDirect inserts evs into a new database with chstore.InsertEvents in
// batches of batchRows and returns the events per second and the CPU time
// this process spent (kfake, idle then, included).
func insertDirect(b *testing.B, srv *chtest.Server, evs []event.Event, batchRows int) (float64, time.Duration) {
	b.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, chstore.Config{Addr: srv.Addr, Database: srv.NewDatabase(b), Username: srv.Username, Password: srv.Password})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx, chstore.MigrateOptions{}); err != nil {
		b.Fatal(err)
	}
	start, cpu := time.Now(), processCPU(b, os.Getpid())
	for i := 0; i < len(evs); i += batchRows {
		if err := store.InsertEvents(ctx, evs[i:min(i+batchRows, len(evs))], time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return float64(len(evs)) / time.Since(start).Seconds(), processCPU(b, os.Getpid()) - cpu
}

// waitMerged waits until the server runs no merge.
func waitMerged(b *testing.B, conn driver.Conn) {
	b.Helper()
	waitFor(b, 5*time.Minute, "ClickHouse to finish merging", func() bool {
		return count(b, conn, "SELECT count() FROM system.merges") == 0
	})
}

// processCPU reads the user and system CPU time process pid has used.
func processCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading CPU time: %v", err)
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("parsing /proc/%d/stat: %v", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// vmHWM reads the peak resident set size of process pid, in bytes.
func vmHWM(t testing.TB, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading peak memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parsing VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}
