package main

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/spool"
)

// deliver makes rec durable and returns the outcome to answer with: accepted
// once Kafka acknowledged it, spooled once it is fsync'd in the spool, or a
// 503 outcome. ctx carries the deadline of the whole answer (PRODUCE_TIMEOUT).
//
// Without a spool, Kafka gets the whole deadline. With one, records queue
// behind the spool while it holds any (first in, first out) or while the raw
// topic is not checked yet; otherwise Kafka gets half the deadline and the
// spool the rest.
func (h *webhookHandler) deliver(ctx context.Context, rec *kgo.Record, requestID string) string {
	if h.spool != nil {
		if h.spool.holding() {
			return h.toSpool(ctx, rec, requestID, "queued behind the spool")
		}
		if !h.topicReady() {
			return h.toSpool(ctx, rec, requestID, "raw topic not checked yet")
		}
	}
	wait := h.produceTimeout
	if h.spool != nil {
		wait /= 2
	}
	err := h.produce(ctx, rec, wait)
	if err == nil {
		return outcomeAccepted
	}
	if h.spool == nil {
		h.logger.Warn("kafka did not take the raw record", "request_id", requestID, "err", err)
		return outcomeUnavailable
	}
	return h.toSpool(ctx, rec, requestID, err.Error())
}

var errProduceTimeout = errors.New("kafka did not acknowledge in time")

// produce waits at most wait for Kafka's acknowledgement of rec. The wait is
// bounded here, not by the client: once an idempotent record is buffered,
// franz-go keeps retrying it whatever the context says (franz-go issue
// #1217). A record that lands after we gave up is a duplicate, which event
// ids absorb downstream.
func (h *webhookHandler) produce(ctx context.Context, rec *kgo.Record, wait time.Duration) error {
	// Without a spool Kafka has the whole deadline: no second timer then.
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	acked := make(chan error, 1)
	h.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err := <-acked:
		if err != nil {
			h.metrics.produceErrors.WithLabelValues("error").Inc()
		}
		return err
	case <-ctx.Done():
		h.metrics.produceErrors.WithLabelValues("timeout").Inc()
		return errProduceTimeout
	}
}

// toSpool appends rec to the spool within ctx's deadline.
func (h *webhookHandler) toSpool(ctx context.Context, rec *kgo.Record, requestID, reason string) string {
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
