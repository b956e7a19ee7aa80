package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/kafka"
)

// Headers of retry and parked records, named once in internal/kafka.
const (
	headerEndpoint   = kafka.HeaderNotifyEndpoint
	headerTries      = kafka.HeaderNotifyTries
	headerFirst      = kafka.HeaderNotifyFirst
	headerDue        = kafka.HeaderNotifyDue
	headerEventTime  = kafka.HeaderNotifyEventTime
	headerLastStatus = kafka.HeaderNotifyLastStatus
	headerLastReason = kafka.HeaderNotifyLastReason
	headerDLQReason  = kafka.HeaderDLQReason
	headerDLQDetail  = kafka.HeaderDLQDetail
	headerDLQStage   = kafka.HeaderDLQStage
)

// Reasons for parking a delivery (reftrail-dlq-reason).
const (
	parkedMaxAge          = "max_age_exceeded"
	parkedEndpointRemoved = "endpoint_removed"
)

// delivery is one body for one endpoint, fresh from an event or back from a
// retry topic.
type delivery struct {
	ep        *endpoint
	id        string // webhook-id: the event_id, the same on every attempt
	body      []byte
	eventTime int64 // Unix ms
	// first is when notify first handled the delivery (Unix ms), 0 for a
	// fresh one; NOTIFY_MAX_AGE counts from it.
	first int64
	// tries counts the attempts made, skipped ones included.
	tries int
}

// eventsBudget is how long the events path waits for an endpoint's next
// attempt to end. When none ends for that long, the endpoint's deliveries not
// settled yet go to the retry topics untried (attempts in flight finish on
// their own), and the endpoint counts as slow until an attempt succeeds
// within the budget; meanwhile the events path sends all its deliveries to the
// retry topics at once. So an endpoint that is slow, even one that answers
// 2xx in the end, holds up the others' fresh deliveries for about this, once.
// eventsCap bounds a poll's wait for an endpoint that keeps answering, below
// the group's rebalance timeout (60s): what is left then also goes to the
// retry topics. The retry path waits up to two NOTIFY_TIMEOUTs (a probe, then
// the rest): a slow endpoint is served there, at the pace it answers, and may
// delay the others' retries by as much.
const (
	eventsBudget = time.Second
	eventsCap    = 30 * time.Second
)

// deliverAll attempts ds, then writes a retry record for each failure (or a
// parked record past NOTIFY_MAX_AGE) and waits until Kafka has them all, so
// that the caller may commit what ds came from. mayProbe lets an endpoint that
// is down be tried once per call, for the retry topics; the events topic never
// waits on such an endpoint and hands its deliveries straight to the first
// retry topic. It returns an error only when ctx ended: then nothing is
// settled and the caller must not commit.
func (n *notifier) deliverAll(ctx context.Context, cl *kgo.Client, ds []delivery, mayProbe bool) error {
	byEndpoint := make([][]int, len(n.endpoints))
	for i := range ds {
		byEndpoint[ds[i].ep.index] = append(byEndpoint[ds[i].ep.index], i)
	}
	results := make([]result, len(ds))
	deadline, stall := time.Now().Add(eventsCap), eventsBudget
	if mayProbe {
		deadline, stall = time.Now().Add(2*n.cfg.Timeout), 2*n.cfg.Timeout
	}
	var wg sync.WaitGroup
	for e, idx := range byEndpoint {
		if len(idx) == 0 {
			continue
		}
		wg.Go(func() { n.deliverTo(ctx, n.endpoints[e], ds, idx, results, mayProbe, deadline, stall) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	now := time.Now()
	var follow []*kgo.Record
	var followEP []*endpoint
	for i := range ds {
		d, r := &ds[i], results[i]
		if r.o.ok {
			continue
		}
		if d.first == 0 {
			d.first = now.UnixMilli()
		}
		if r.counts {
			d.tries++
		}
		follow = append(follow, n.followUp(d, r.o, now))
		followEP = append(followEP, d.ep)
	}
	if err := n.produce(ctx, cl, follow); err != nil {
		return err
	}
	for i, r := range follow {
		if r.Topic == dlqTopic {
			followEP[i].metrics.parked.Inc()
		}
	}
	return nil
}

// result is what became of one delivery of a batch.
type result struct {
	o outcome
	// counts says the delivery used up a step of the schedule: it was
	// tried, or skipped by the retry path because its endpoint was just
	// found down. Deliveries deferred untried do not count.
	counts  bool
	settled bool
}

// settling collects one endpoint's results of a batch. Attempts still in
// flight when the batch moved on find their delivery settled already.
type settling struct {
	mu      sync.Mutex
	results []result
	left    int
	done    chan struct{}
	// progress receives a value (dropped when one waits already) for each
	// delivery settled.
	progress chan struct{}
}

func (s *settling) settle(i int, r result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.results[i].settled {
		return
	}
	r.settled = true
	s.results[i] = r
	if s.left--; s.left == 0 {
		close(s.done)
	}
	select {
	case s.progress <- struct{}{}:
	default:
	}
}

// deliverTo settles the deliveries ds[idx] of one endpoint: by attempts
// (dispatch) until they are all settled, the deadline passes, or none settles
// for stall; those left are deferred untried, and after a stall of the events
// path the endpoint is marked slow.
func (n *notifier) deliverTo(ctx context.Context, ep *endpoint, ds []delivery, idx []int, results []result, mayProbe bool, deadline time.Time, stall time.Duration) {
	s := &settling{results: results, left: len(idx), done: make(chan struct{}), progress: make(chan struct{}, 1)}
	jobs := make([]job, len(idx))
	for k, i := range idx {
		jobs[k] = job{i: i, id: ds[i].id, body: ds[i].body, eventTime: ds[i].eventTime}
	}
	var stopped atomic.Bool
	go n.dispatch(ctx, ep, jobs, s, mayProbe, &stopped)
	capped := time.NewTimer(time.Until(deadline))
	defer capped.Stop()
	stalled := time.NewTimer(stall)
	defer stalled.Stop()
	slowed := false
wait:
	for {
		select {
		case <-s.done:
			return
		case <-s.progress:
			stalled.Reset(stall)
		case <-stalled.C:
			slowed = true
			break wait
		case <-capped.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	stopped.Store(true)
	slow := slowOutcome()
	late := 0
	for _, i := range idx {
		s.mu.Lock()
		pending := !s.results[i].settled
		s.mu.Unlock()
		if pending {
			late++
			s.settle(i, result{o: slow})
		}
	}
	if late > 0 && slowed && !mayProbe && ctx.Err() == nil {
		ep.markSlow()
	}
}

// job is what an attempt needs of a delivery, copied: the attempt may
// outlive the batch, whose slices the caller reuses.
type job struct {
	i         int
	id        string
	body      []byte
	eventTime int64
}

// dispatch starts the attempts of one endpoint's jobs, at most
// endpointConcurrency in flight to it across batches. An endpoint found down
// stops being tried: its remaining jobs take the failure just seen. While it
// is down, the retry path tries one job first (the probe) and the rest only
// if it succeeds; the events path tries none, nor any while it is slow.
func (n *notifier) dispatch(ctx context.Context, ep *endpoint, jobs []job, s *settling, mayProbe bool, stopped *atomic.Bool) {
	if down, slow, last := ep.state(); down || slow && !mayProbe {
		if !mayProbe {
			for _, j := range jobs {
				s.settle(j.i, result{o: last})
			}
			return
		}
		probe := jobs[0]
		jobs = jobs[1:]
		ep.sem <- struct{}{}
		o := n.try(ctx, ep, probe)
		<-ep.sem
		s.settle(probe.i, result{o: o, counts: true})
		if !o.ok {
			for _, j := range jobs {
				s.settle(j.i, result{o: o, counts: true})
			}
			return
		}
	}
	for _, j := range jobs {
		ep.sem <- struct{}{}
		if stopped.Load() || ctx.Err() != nil {
			<-ep.sem
			return
		}
		if down, slow, last := ep.state(); down || slow && !mayProbe {
			<-ep.sem
			s.settle(j.i, result{o: last, counts: mayProbe})
			continue
		}
		go func() {
			defer func() { <-ep.sem }()
			s.settle(j.i, result{o: n.try(ctx, ep, j), counts: true})
		}()
	}
}

// try makes one attempt and records it in the endpoint's health and metrics.
func (n *notifier) try(ctx context.Context, ep *endpoint, j job) outcome {
	start := time.Now()
	o := n.attempt(ctx, ep, j.id, j.body)
	if ctx.Err() != nil {
		return o // cut off by shutdown: says nothing of the endpoint
	}
	ep.record(o, time.Since(start) > eventsBudget)
	if o.ok {
		ep.metrics.delivered.Inc()
		ep.metrics.latency.Observe(time.Since(time.UnixMilli(j.eventTime)).Seconds())
	} else {
		ep.metrics.failed.WithLabelValues(o.class).Inc()
	}
	return o
}

// followUp returns the record that keeps a failed delivery: in the retry
// topic of its next wait, or parked in reftrail.notify.dlq once
// NOTIFY_MAX_AGE since its first attempt has passed.
func (n *notifier) followUp(d *delivery, o outcome, now time.Time) *kgo.Record {
	deadline := time.UnixMilli(d.first).Add(n.cfg.MaxAge)
	status := strconv.Itoa(o.status)
	r := &kgo.Record{
		Key:   []byte(d.ep.id),
		Value: d.body,
		Headers: []kgo.RecordHeader{
			{Key: headerID, Value: []byte(d.id)},
			{Key: headerEndpoint, Value: []byte(d.ep.id)},
			{Key: headerTries, Value: []byte(strconv.Itoa(d.tries))},
			{Key: headerFirst, Value: []byte(strconv.FormatInt(d.first, 10))},
			{Key: headerEventTime, Value: []byte(strconv.FormatInt(d.eventTime, 10))},
			{Key: headerLastStatus, Value: []byte(status)},
			{Key: headerLastReason, Value: []byte(o.reason)},
		},
	}
	if !now.Before(deadline) {
		r.Topic = dlqTopic
		r.Headers = append(r.Headers,
			kgo.RecordHeader{Key: headerDLQReason, Value: []byte(parkedMaxAge)},
			kgo.RecordHeader{Key: headerDLQDetail, Value: fmt.Appendf(nil, "%d attempts over %v; last: %s", d.tries, now.Sub(time.UnixMilli(d.first)).Round(time.Millisecond), o.reason)},
			kgo.RecordHeader{Key: headerDLQStage, Value: []byte("notify")},
		)
		return r
	}
	wait := n.cfg.Schedule[min(max(d.tries-1, 0), len(n.cfg.Schedule)-1)]
	wait = max(wait, o.retryAfter)
	due := now.Add(wait)
	if due.After(deadline) {
		due = deadline
	}
	r.Topic = n.levelTopic(due.Sub(now))
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: headerDue, Value: []byte(strconv.FormatInt(due.UnixMilli(), 10))})
	return r
}

// levelTopic is the retry topic for a wait: that of the shortest level at
// least as long, or the longest. Within a topic, records are then due in
// about the order they were written, so waiting for the first one due holds
// up the others only a little: the due header is what counts.
func (n *notifier) levelTopic(wait time.Duration) string {
	for _, l := range n.levels {
		if l >= wait {
			return retryTopic(l)
		}
	}
	return retryTopic(n.levels[len(n.levels)-1])
}

// produce writes recs and waits for Kafka to have them all, trying the
// failed ones again until ctx ends.
func (n *notifier) produce(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for len(recs) > 0 {
		var failed []*kgo.Record
		var firstErr error
		for _, res := range cl.ProduceSync(ctx, recs...) {
			if res.Err != nil {
				failed = append(failed, res.Record)
				firstErr = res.Err
			}
		}
		if len(failed) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := retry.Next()
		n.logger.Warn("writing retry records failed; trying again", "records", len(failed), "err", firstErr, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
		recs = failed
	}
	return nil
}
