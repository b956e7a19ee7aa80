package main

import (
	"context"
	"errors"
	"sync/atomic"
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
// up is a duplicate, which event ids absorb downstream. The deadline is
// checked at the ticks of h.ticks, not by a timer of its own; only when the
// client's buffer is full (MaxBufferedBytes) does a context come in, to wait
// for room until the deadline.
func (h *webhookHandler) produce(rec *kgo.Record, deadline time.Time) error {
	acked := make(chan error, 1)
	promise := func(_ *kgo.Record, err error) { acked <- err }
	h.client.TryProduce(context.Background(), rec, promise)
	for {
		select {
		case err := <-acked:
			if errors.Is(err, kgo.ErrMaxBuffered) {
				ctx, cancel := context.WithDeadline(context.Background(), deadline)
				defer cancel()
				h.client.Produce(ctx, rec, promise)
				continue
			}
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				// Still no room in the buffer at the deadline.
				h.metrics.produceErrors.WithLabelValues("timeout").Inc()
				return errProduceTimeout
			case err != nil:
				h.metrics.produceErrors.WithLabelValues("error").Inc()
			}
			return err
		case <-h.ticks.next():
			if time.Now().Before(deadline) {
				continue
			}
			h.metrics.produceErrors.WithLabelValues("timeout").Inc()
			return errProduceTimeout
		}
	}
}

// ticker wakes all the requests waiting for Kafka at once, every tick, to
// check their deadlines: a timer per request costs as much as its produce.
// A request answers at most a tick after its deadline.
type ticker struct {
	tick time.Duration
	c    atomic.Pointer[chan struct{}]
}

// newTicker returns a ticker for deadlines of timeout: a twentieth of it, at
// least 1ms and at most 50ms.
func newTicker(timeout time.Duration) *ticker {
	t := &ticker{tick: min(max(timeout/20, time.Millisecond), 50*time.Millisecond)}
	c := make(chan struct{})
	t.c.Store(&c)
	return t
}

// run ticks until ctx ends.
func (t *ticker) run(ctx context.Context) {
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			c := make(chan struct{})
			close(*t.c.Swap(&c))
		}
	}
}

// next returns a channel closed at the next tick.
func (t *ticker) next() <-chan struct{} { return *t.c.Load() }

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
