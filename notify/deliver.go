package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
)

// Headers of retry and parked records, beside webhook-id. Times are Unix ms.
const (
	headerEndpoint   = "reftrail-notify-endpoint"
	headerTries      = "reftrail-notify-tries"
	headerFirst      = "reftrail-notify-first"
	headerDue        = "reftrail-notify-due"
	headerEventTime  = "reftrail-notify-event-time"
	headerLastStatus = "reftrail-notify-last-status"
	headerLastReason = "reftrail-notify-last-reason"
	// Parked records also carry the DLQ headers of DESIGN.md.
	headerDLQReason = "reftrail-dlq-reason"
	headerDLQDetail = "reftrail-dlq-detail"
	headerDLQStage  = "reftrail-dlq-stage"
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

// deliverAll attempts ds, then writes a retry record for each failure (or a
// parked record past NOTIFY_MAX_AGE) and waits until Kafka has them all, so
// that the caller may commit what ds came from. mayProbe lets an endpoint that
// is down be tried once, for the retry topics; the events topic never waits
// on such an endpoint and hands its deliveries straight to the first retry
// topic. It returns an error only when ctx ended: then nothing is settled and
// the caller must not commit.
func (n *notifier) deliverAll(ctx context.Context, cl *kgo.Client, ds []delivery, mayProbe bool) error {
	byEndpoint := make([][]int, len(n.endpoints))
	for i := range ds {
		byEndpoint[ds[i].ep.index] = append(byEndpoint[ds[i].ep.index], i)
	}
	outcomes := make([]outcome, len(ds))
	tried := make([]bool, len(ds))
	var wg sync.WaitGroup
	for e, idx := range byEndpoint {
		if len(idx) == 0 {
			continue
		}
		wg.Go(func() { n.deliverTo(ctx, n.endpoints[e], ds, idx, outcomes, tried, mayProbe) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	now := time.Now()
	var follow []*kgo.Record
	var followEP []*endpoint
	for i := range ds {
		d, o := &ds[i], outcomes[i]
		if o.ok {
			d.ep.metrics.delivered.Inc()
			d.ep.metrics.latency.Observe(now.Sub(time.UnixMilli(d.eventTime)).Seconds())
			continue
		}
		if tried[i] {
			d.ep.metrics.failed.WithLabelValues(o.class).Inc()
		}
		if d.first == 0 {
			d.first = now.UnixMilli()
		}
		if tried[i] || mayProbe {
			d.tries++
		}
		follow = append(follow, n.followUp(d, o, now))
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

// deliverTo runs the attempts of one endpoint, at most endpointConcurrency at
// a time. An endpoint found down stops being tried for the rest of the batch:
// its remaining deliveries take the failure just seen. While it is down, the
// retry path tries one delivery first (the probe) and the rest only if it
// succeeds.
func (n *notifier) deliverTo(ctx context.Context, ep *endpoint, ds []delivery, idx []int, outcomes []outcome, tried []bool, mayProbe bool) {
	if down, last := ep.down(); down {
		if !mayProbe {
			for _, i := range idx {
				outcomes[i] = last
			}
			return
		}
		o := n.attempt(ctx, ep, ds[idx[0]].id, ds[idx[0]].body)
		outcomes[idx[0]], tried[idx[0]] = o, true
		ep.record(o)
		idx = idx[1:]
		if !o.ok {
			for _, i := range idx {
				outcomes[i] = o
			}
			return
		}
	}
	sem := make(chan struct{}, endpointConcurrency)
	var wg sync.WaitGroup
	for _, i := range idx {
		sem <- struct{}{}
		if down, last := ep.down(); down || ctx.Err() != nil {
			<-sem
			outcomes[i] = last
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			o := n.attempt(ctx, ep, ds[i].id, ds[i].body)
			outcomes[i], tried[i] = o, true
			ep.record(o)
		})
	}
	wg.Wait()
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
