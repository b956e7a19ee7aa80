package main

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/eventcodec"
)

// consume is the events loop: poll EVENTS_TOPIC, make a delivery of every
// referral for every endpoint, attempt them (deliverAll), and commit the
// polled records once each delivery is delivered or in Kafka for later.
// Nothing polled is committed otherwise, so a crash or a rebalance at any
// point only makes deliveries again, with the same webhook-id.
func (n *notifier) consume(ctx context.Context, cl *kgo.Client) error {
	var ds []delivery
	for {
		fetches := cl.PollRecords(ctx, maxPollRecords)
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) {
				n.logger.Warn("fetching", "topic", topic, "partition", partition, "err", err)
			}
		})
		records := fetches.Records()
		ds = ds[:0]
		for _, r := range records {
			var err error
			if ds, err = n.deliveries(ctx, ds, r); err != nil {
				return nil // ctx ended
			}
		}
		if err := n.deliverAll(ctx, cl, ds, false); err != nil {
			return nil
		}
		if len(records) > 0 {
			if err := cl.CommitRecords(ctx, records...); err != nil && ctx.Err() == nil {
				n.logger.Warn("committing offsets failed; those events will be delivered again", "err", err)
			}
		}
		cl.AllowRebalance()
	}
}

// deliveries appends to ds one delivery per endpoint if r holds an event
// carrying a referral. A record that cannot be decoded is skipped (sink
// dead-letters it); a decoder failure that may pass (the schema registry
// unreachable) is retried until ctx ends.
func (n *notifier) deliveries(ctx context.Context, ds []delivery, r *kgo.Record) ([]delivery, error) {
	var e event.Event
	retry := backoff.Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := n.decoder.Decode(ctx, r.Value, &e)
		if err == nil {
			break
		}
		if errors.Is(err, eventcodec.ErrMalformed) || errors.Is(err, eventcodec.ErrUnknownSchema) {
			n.metrics.undecodable.Inc()
			n.logger.Warn("skipping an undecodable event", "partition", r.Partition, "offset", r.Offset, "err", err)
			return ds, nil
		}
		wait := retry.Next()
		n.logger.Warn("decoding an event failed; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return ds, ctx.Err()
		}
	}
	if e.Referral == nil {
		n.metrics.events.WithLabelValues("other").Inc()
		return ds, nil
	}
	n.metrics.events.WithLabelValues("referral").Inc()
	b := body(&e)
	for _, ep := range n.endpoints {
		ds = append(ds, delivery{ep: ep, id: e.EventID, body: b, eventTime: e.EventTime})
	}
	return ds, nil
}
