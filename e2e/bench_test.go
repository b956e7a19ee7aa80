package e2e

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reftrail/reftrail/internal/dev/chtest"
	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/meta"
)

// freshnessRate is the fixed rate, in webhooks per second, at which freshness
// is measured: a busy account's traffic, well under the sustained limit.
const freshnessRate = 200

// BenchmarkPipeline measures, through ingest, enrich and sink on kfake and a
// real ClickHouse, with sink's default FLUSH_INTERVAL of 1s:
//   - sustained events per second: a large plan posted as fast as 64
//     concurrent senders go, from the first POST until ClickHouse holds every
//     distinct event;
//   - freshness at a fixed rate: for each webhook, the time from its POST to
//     its first event being visible in ClickHouse, polled every 50 ms, as p50
//     and p99.
//
// Run it with -benchtime 1x (make bench-e2e): each iteration is a whole plan.
func BenchmarkPipeline(b *testing.B) {
	var sustained, p50, p99 float64
	for range b.N {
		p := newPipeline(b, chtest.Start(b), "FLUSH_INTERVAL=1s")
		sustained = p.sustained(b)
		p50, p99 = p.freshness(b)
	}
	b.ReportMetric(sustained, "events/s")
	b.ReportMetric(p50, "freshness_p50_ms")
	b.ReportMetric(p99, "freshness_p99_ms")
}

func (p *pipeline) sustained(b *testing.B) float64 {
	plan, err := traffic.NewPlan(traffic.Options{Seed: 21, Participants: 30000, MaxItemsPerBody: 100})
	if err != nil {
		b.Fatal(err)
	}
	want := plan.Expected()
	start := time.Now()
	if err := p.send(context.Background(), plan.Webhooks(), traffic.SendOptions{Concurrency: 64, Retries: 5}); err != nil {
		b.Fatal(err)
	}
	p.checkStored(want, 5*time.Minute)
	return float64(want.TotalEvents) / time.Since(start).Seconds()
}

func (p *pipeline) freshness(b *testing.B) (p50, p99 float64) {
	// Another period than sustained's plan, so its events are told apart.
	plan, err := traffic.NewPlan(traffic.Options{Seed: 22, Participants: 2000, Start: traffic.DefaultStart.AddDate(0, 1, 0), BadPayloads: -1, RedeliveryFraction: -1})
	if err != nil {
		b.Fatal(err)
	}
	webhooks := plan.Webhooks()
	ids := make([]string, len(webhooks))
	for i, w := range webhooks {
		res, err := meta.Decode(w.Body, meta.Source{})
		if err != nil || len(res.Events) == 0 {
			continue // a body of reads and deliveries only has no event to wait for
		}
		ids[i] = res.Events[0].EventID
	}

	var mu sync.Mutex
	posted := map[string]time.Time{}
	var latencies []time.Duration
	allPosted, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		p.pollVisible(b, &mu, posted, &latencies, allPosted)
	}()

	var wg sync.WaitGroup
	start := time.Now()
	for i, w := range webhooks {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / freshnessRate)))
		wg.Go(func() {
			sent := time.Now()
			req, _ := http.NewRequest(http.MethodPost, p.ingestURL(), bytes.NewReader(w.Body))
			req.Header.Set(meta.SignatureHeader, meta.Sign(appSecret, w.Body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("POST answered %v, %v", resp, err)
				return
			}
			resp.Body.Close()
			if ids[i] != "" {
				mu.Lock()
				if _, seen := posted[ids[i]]; !seen {
					posted[ids[i]] = sent
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(allPosted)
	<-done
	if len(latencies) == 0 {
		b.Fatal("no event became visible")
	}
	slices.Sort(latencies)
	return ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)*99/100])
}

// pollVisible queries ClickHouse every 50 ms for the posted event ids not seen
// yet and records how long each took to become visible, until allPosted is
// closed and every posted id has been seen.
func (p *pipeline) pollVisible(b *testing.B, mu *sync.Mutex, posted map[string]time.Time, latencies *[]time.Duration, allPosted <-chan struct{}) {
	conn := p.ch.Conn(b, p.db)
	seen := map[string]bool{}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		// Checked before the snapshot of posted, so once closed, the
		// snapshot holds every id.
		finished := false
		select {
		case <-allPosted:
			finished = true
		default:
		}
		mu.Lock()
		var pending []string
		for id := range posted {
			if !seen[id] {
				pending = append(pending, id)
			}
		}
		mu.Unlock()
		if len(pending) == 0 {
			if finished {
				return
			}
			continue
		}
		rows, err := conn.Query(context.Background(), "SELECT DISTINCT event_id FROM events WHERE has(?, event_id)", pending)
		if err != nil {
			b.Errorf("polling ClickHouse: %v", err)
			return
		}
		now := time.Now()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				b.Error(err)
			}
			mu.Lock()
			*latencies = append(*latencies, now.Sub(posted[id]))
			mu.Unlock()
			seen[id] = true
		}
		rows.Close()
	}
	b.Errorf("events still invisible after 5 minutes")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
