package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/spool"
)

// deliver makes rec durable and returns the outcome to answer with: accepted
// once Kafka acknowledged it, spooled once it is fsync'd in the spool, or a
// 503 outcome. The whole answer has PRODUCE_TIMEOUT from start.
//
// Without a spool, Kafka gets the whole deadline. With one, records queue
// behind the spool while it holds any (first in, first out) or while the raw
// topic is not checked yet; otherwise Kafka gets half the deadline and the
// spool the rest.
func (h *webhookHandler) deliver(start time.Time, rec *kgo.Record, requestID string) string {
	deadline := start.Add(h.produceTimeout)
	if h.spool != nil {
		if h.spool.holding() {
			return h.toSpool(deadline, rec, requestID, "queued behind the spool")
		}
		if !h.topicReady() {
			return h.toSpool(deadline, rec, requestID, "raw topic not checked yet")
		}
	}
	wait := h.produceTimeout
	if h.spool != nil {
		wait /= 2
	}
	err := h.produce(rec, start.Add(wait))
	if err == nil {
		return outcomeAccepted
	}
	if h.spool == nil {
		h.logger.Warn("kafka did not take the raw record", "request_id", requestID, "err", err)
		return outcomeUnavailable
	}
	return h.toSpool(deadline, rec, requestID, err.Error())
}

var errProduceTimeout = errors.New("kafka did not acknowledge in time")

// produce waits until deadline at most for Kafka's acknowledgement of rec.
// The wait is bounded here, not by the client: once an idempotent record is
// buffered, franz-go keeps retrying it whatever its context says (franz-go
// issue #1217), so the record carries none. A record that lands after we gave
// up is a duplicate, which event ids absorb downstream. The deadline is kept
// by h.deadlines, not by a timer of its own; only when the client's buffer is
// full (MaxBufferedBytes) does a context come in, to wait for room until the
// deadline.
func (h *webhookHandler) produce(rec *kgo.Record, deadline time.Time) error {
	w := h.deadlines.add(deadline)
	defer h.deadlines.remove(w)
	promise := func(_ *kgo.Record, err error) { w.answer(err) }
	h.client.TryProduce(context.Background(), rec, promise)
	for {
		err := <-w.answers
		switch {
		case errors.Is(err, kgo.ErrMaxBuffered):
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			h.client.Produce(ctx, rec, promise)
			continue
		case errors.Is(err, errProduceTimeout), errors.Is(err, context.DeadlineExceeded):
			h.metrics.produceErrors.WithLabelValues("timeout").Inc()
			return errProduceTimeout
		case err != nil:
			h.metrics.produceErrors.WithLabelValues("error").Inc()
		}
		return err
	}
}

// deadlines times out the requests waiting for Kafka: every tick, one
// goroutine answers errProduceTimeout to those whose deadline passed. A timer
// per request costs as much as its produce, and so does a select between the
// acknowledgement and a shared tick; a request waits on its answers alone.
// A request is answered at most a tick after its deadline.
type deadlines struct {
	tick time.Duration
	mu   sync.Mutex
	head *waiter // a list in no order
}

// waiter is a request waiting for Kafka.
type waiter struct {
	// answers takes the client's promise (twice when the buffer was full)
	// and the timeout, without ever blocking either.
	answers    chan error
	deadline   time.Time
	prev, next *waiter
	listed     bool
}

func (w *waiter) answer(err error) {
	select {
	case w.answers <- err:
	default:
	}
}

// newDeadlines returns deadlines for waits of up to timeout, ticking a
// twentieth of it, at least 1ms and at most 50ms.
func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{tick: min(max(timeout/20, time.Millisecond), 50*time.Millisecond)}
}

func (d *deadlines) add(deadline time.Time) *waiter {
	w := &waiter{answers: make(chan error, 3), deadline: deadline, listed: true}
	d.mu.Lock()
	w.next = d.head
	if d.head != nil {
		d.head.prev = w
	}
	d.head = w
	d.mu.Unlock()
	return w
}

func (d *deadlines) remove(w *waiter) {
	d.mu.Lock()
	d.unlink(w)
	d.mu.Unlock()
}

// unlink takes w off the list, if it is on it; d.mu is held.
func (d *deadlines) unlink(w *waiter) {
	if !w.listed {
		return
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		d.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.listed = nil, nil, false
}

// run times out waiters every tick until ctx ends.
func (d *deadlines) run(ctx context.Context) {
	tk := time.NewTicker(d.tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			d.mu.Lock()
			for w := d.head; w != nil; {
				next := w.next
				if !now.Before(w.deadline) {
					d.unlink(w)
					w.answer(errProduceTimeout)
				}
				w = next
			}
			d.mu.Unlock()
		}
	}
}

// toSpool appends rec to the spool by deadline.
func (h *webhookHandler) toSpool(deadline time.Time, rec *kgo.Record, requestID, reason string) string {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	err := h.spool.append(ctx, rec, reason)
	switch {
	case err == nil:
		return outcomeSpooled
	case errors.Is(err, spool.ErrFull):
		return outcomeSpoolFull
	case errors.Is(err, spool.ErrFailed):
		h.logger.Error("spool disk failed; answering 503", "request_id", requestID, "err", err)
	default:
		h.logger.Warn("spool did not take the raw record in time", "request_id", requestID, "err", err)
	}
	return outcomeUnavailable
}
