package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// retrier is the retry loop. Each retry topic holds the deliveries of one
// wait, so within a partition they fall due in about the order they were
// written. The loop attempts the records that are due, and holds the rest of
// a partition's polled records while that partition is paused until its first
// held record is due: held records are at most one poll's worth, whatever the
// backlog, since a paused partition fetches nothing more and franz-go drops
// what it buffered for it without moving past it.
type retrier struct {
	n *notifier

	// mu guards held: the loop fills and drains it, the rebalance
	// callbacks drop partitions that moved away.
	mu   sync.Mutex
	held map[topicPartition][]*kgo.Record
}

type topicPartition struct {
	topic     string
	partition int32
}

func newRetrier(n *notifier) *retrier {
	return &retrier{n: n, held: map[topicPartition][]*kgo.Record{}}
}

// maxRetryPollWait bounds a poll, so that the oldest-pending gauge stays
// fresh while nothing arrives.
const maxRetryPollWait = time.Second

func (r *retrier) run(ctx context.Context, cl *kgo.Client) error {
	var ds []delivery
	for {
		pollCtx, cancel := context.WithDeadline(ctx, r.nextDue(time.Now().Add(maxRetryPollWait)))
		fetches := cl.PollRecords(pollCtx, maxPollRecords)
		cancel()
		if fetches.IsClientClosed() || ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				r.n.logger.Warn("fetching", "topic", topic, "partition", partition, "err", err)
			}
		})
		r.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				tp := topicPartition{p.Topic, p.Partition}
				r.held[tp] = append(r.held[tp], p.Records...)
			}
		})
		now := time.Now()
		ds = ds[:0]
		var parked, last []*kgo.Record
		for tp, recs := range r.held {
			i := 0
			for ; i < len(recs) && !now.Before(dueOf(recs[i])); i++ {
				if d, ok := r.delivery(recs[i]); ok {
					ds = append(ds, d)
				} else {
					parked = append(parked, removedRecord(recs[i]))
				}
			}
			if i > 0 {
				last = append(last, recs[i-1])
				r.held[tp] = recs[i:]
			}
		}
		r.mu.Unlock()

		if len(parked) > 0 {
			r.n.logger.Warn("parking retries of endpoints no longer in NOTIFY_URLS", "records", len(parked))
		}
		if err := r.n.produce(ctx, cl, parked); err != nil {
			return nil
		}
		if err := r.n.deliverAll(ctx, cl, ds, true); err != nil {
			return nil
		}
		if len(last) > 0 {
			if err := cl.CommitRecords(ctx, last...); err != nil && ctx.Err() == nil {
				r.n.logger.Warn("committing retry offsets failed; those retries will be made again", "err", err)
			}
		}
		r.pauseHeld(cl)
		r.updateOldest(now)
		cl.AllowRebalance()
	}
}

// delivery reads a retry record; ok is false when its endpoint is no longer
// configured.
func (r *retrier) delivery(rec *kgo.Record) (delivery, bool) {
	ep := r.n.byID[header(rec, headerEndpoint)]
	if ep == nil {
		return delivery{}, false
	}
	tries, _ := strconv.Atoi(header(rec, headerTries))
	return delivery{
		ep:        ep,
		id:        header(rec, headerID),
		body:      rec.Value,
		eventTime: headerInt(rec, headerEventTime),
		first:     headerInt(rec, headerFirst),
		tries:     tries,
	}, true
}

// removedRecord parks a retry whose endpoint was removed from NOTIFY_URLS.
func removedRecord(rec *kgo.Record) *kgo.Record {
	headers := slices.DeleteFunc(slices.Clone(rec.Headers), func(h kgo.RecordHeader) bool { return h.Key == headerDue })
	headers = append(headers,
		kgo.RecordHeader{Key: headerDLQReason, Value: []byte(parkedEndpointRemoved)},
		kgo.RecordHeader{Key: headerDLQDetail, Value: []byte("the endpoint is no longer in NOTIFY_URLS")},
		kgo.RecordHeader{Key: headerDLQStage, Value: []byte("notify")},
	)
	return &kgo.Record{Topic: dlqTopic, Key: rec.Key, Value: rec.Value, Headers: headers}
}

// pauseHeld pauses the partitions that hold records not yet due and resumes
// the others.
func (r *retrier) pauseHeld(cl *kgo.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for tp, recs := range r.held {
		if len(recs) > 0 {
			pause[tp.topic] = append(pause[tp.topic], tp.partition)
		} else {
			resume[tp.topic] = append(resume[tp.topic], tp.partition)
			delete(r.held, tp)
		}
	}
	cl.PauseFetchPartitions(pause)
	cl.ResumeFetchPartitions(resume)
}

// nextDue returns when the first held record is due, or limit if earlier.
func (r *retrier) nextDue(limit time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, recs := range r.held {
		if len(recs) > 0 {
			if due := dueOf(recs[0]); due.Before(limit) {
				limit = due
			}
		}
	}
	return limit
}

// updateOldest sets each endpoint's oldest-pending gauge from the held
// records, the oldest that notify has read.
func (r *retrier) updateOldest(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := make([]int64, len(r.n.endpoints))
	for _, recs := range r.held {
		for _, rec := range recs {
			if ep := r.n.byID[header(rec, headerEndpoint)]; ep != nil {
				if t := headerInt(rec, headerEventTime); oldest[ep.index] == 0 || t < oldest[ep.index] {
					oldest[ep.index] = t
				}
			}
		}
	}
	for i, ep := range r.n.endpoints {
		age := 0.0
		if oldest[i] != 0 {
			age = now.Sub(time.UnixMilli(oldest[i])).Seconds()
		}
		ep.metrics.oldest.Set(age)
	}
}

// dropPartitions is the OnPartitionsRevoked and OnPartitionsLost callback: it
// runs while the loop allows rebalances, and leaves the held records of
// partitions that moved away, uncommitted, to their new owner.
func (r *retrier) dropPartitions(_ context.Context, cl *kgo.Client, gone map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, partitions := range gone {
		for _, p := range partitions {
			delete(r.held, topicPartition{topic, p})
		}
	}
	cl.ResumeFetchPartitions(gone)
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func headerInt(r *kgo.Record, key string) int64 {
	v, _ := strconv.ParseInt(header(r, key), 10, 64)
	return v
}

// dueOf is when a retry record is due; a record without a readable due
// header is due at once.
func dueOf(r *kgo.Record) time.Time {
	return time.UnixMilli(headerInt(r, headerDue))
}
