package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
// runs once whatever b.N; SINK_BENCH_EVENTS sets the backlog (default 500000)
// and SINK_BENCH_ROUNDS the number of sink runs (default 3):
//
//	go test -run '^$' -bench SinkThroughput -benchtime 1x ./sink
//
// A run of a few seconds on a shared two-core machine moves by a fifth from
// one to the next, for the direct inserts as much as for the sink, so each
// sink run is bracketed by direct runs (direct, sink, direct, sink, ...,
// direct) and compared with the mean of the two around it. The benchmark
// reports the median, lowest and highest of those ratios, and the medians of
// the rates and CPU times.
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
	n, rounds := testenv.PositiveInt(b, "SINK_BENCH_EVENTS", 500000), testenv.PositiveInt(b, "SINK_BENCH_ROUNDS", 3)
	evs := planEvents(b, n)
	records := eventRecords(b, evs)
	batchSizes := func(b *testing.B, srv *chtest.Server) {
		for _, rows := range []int{10000, 50000} {
			b.Run(fmt.Sprintf("batch_rows=%d", rows), func(b *testing.B) {
				benchSinkThroughput(b, srv, evs, records, rows, rounds)
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

// sinkRun is what one run of the sink child measured.
type sinkRun struct {
	rate, rateAfterReady float64 // events/s from its start and from /readyz
	cpu                  time.Duration
	peak                 int64 // VmHWM, bytes
}

// benchSinkThroughput runs the sink rounds times on records (the encoded
// evs), each run between two runs of the direct limit, all in batches of
// batchRows on srv.
func benchSinkThroughput(b *testing.B, srv *chtest.Server, evs []event.Event, records []*kgo.Record, batchRows, rounds int) {
	n := len(evs)
	conn := srv.Conn(b, "")
	// Each run starts once the server has finished merging the parts of
	// the run before, which would otherwise take CPU from it.
	waitMerged(b, conn)
	// The first inserts into a fresh server are slower: a run to warm it.
	insertDirect(b, srv, evs[:min(n, 5*batchRows)], batchRows)
	waitMerged(b, conn)
	directRate, directCPU := insertDirect(b, srv, evs, batchRows)
	directRates, directCPUs := []float64{directRate}, []float64{perEvent(directCPU, n)}
	var ratios, sinkRates, afterReady, sinkCPUs []float64
	var peak int64
	for range rounds {
		run := runSink(b, srv, conn, records, batchRows)
		waitMerged(b, conn)
		rate, cpu := insertDirect(b, srv, evs, batchRows)
		ratios = append(ratios, run.rate/((directRates[len(directRates)-1]+rate)/2))
		directRates, directCPUs = append(directRates, rate), append(directCPUs, perEvent(cpu, n))
		sinkRates, afterReady, sinkCPUs = append(sinkRates, run.rate), append(afterReady, run.rateAfterReady), append(sinkCPUs, perEvent(run.cpu, n))
		peak = max(peak, run.peak)
	}

	b.ReportMetric(median(sinkRates), "sink_events/s")
	b.ReportMetric(median(afterReady), "sink_after_ready_events/s")
	b.ReportMetric(median(directRates), "direct_events/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(slices.Min(ratios), "ratio_min")
	b.ReportMetric(slices.Max(ratios), "ratio_max")
	b.ReportMetric(float64(peak)/(1<<20), "sink_peak_MiB")
	// CPU time per event is steadier than events/s on a shared machine.
	b.ReportMetric(median(sinkCPUs), "sink_cpu_us/event")
	b.ReportMetric(median(directCPUs), "direct_cpu_us/event")
	b.Logf("%d events in batches of %d, %d sink runs: sink %.0f events/s, direct InsertEvents %.0f, ratios %.2f, sink VmHWM %.1f MiB",
		n, batchRows, rounds, sinkRates, directRates, ratios, float64(peak)/(1<<20))
}

// runSink produces records to a new Kafka cluster (the sink's consumer group
// starts there from the first offset) and times a sink child writing them into
// a new database of srv, which conn reaches. The clock starts before the child
// does, so the process's start-up, migrations and group join count against
// the sink.
func runSink(b *testing.B, srv *chtest.Server, conn driver.Conn, records []*kgo.Record, batchRows int) sinkRun {
	b.Helper()
	cluster := kafkatest.NewFake(b, kfake.SeedTopics(partitions, eventsTopic, dlqTopic))
	defer cluster.Close()
	produce(b, cluster.ListenAddrs(), records)
	waitMerged(b, conn)

	db := srv.NewDatabase(b)
	env := sinkEnv(cluster.ListenAddrs(), srv, db, testenv.FreeAddr(b))
	env["BATCH_ROWS"] = strconv.Itoa(batchRows)
	n := uint64(len(records))
	start := time.Now()
	c := startChild(b, env, filepath.Join(b.TempDir(), "sink.log"))
	defer c.kill(b)
	testenv.WaitReadyz(b, c.url, http.StatusOK, 60*time.Second)
	ready := time.Now()
	waitFor(b, 10*time.Minute, "every event in ClickHouse", func() bool {
		return count(b, conn, "SELECT count() FROM "+db+".events") == n
	})
	end := time.Now()
	return sinkRun{
		rate:           float64(n) / end.Sub(start).Seconds(),
		rateAfterReady: float64(n) / end.Sub(ready).Seconds(),
		cpu:            processCPU(b, c.cmd.Process.Pid),
		peak:           vmHWM(b, c.cmd.Process.Pid),
	}
}

// perEvent is d in µs per event.
func perEvent(d time.Duration, events int) float64 {
	return float64(d.Microseconds()) / float64(events)
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
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
