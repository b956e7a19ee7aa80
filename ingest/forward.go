package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/spool"
)

// forwardBatchBytes bounds the spooled bytes the forwarder has in flight.
const forwardBatchBytes = 16 << 20

// spooler keeps raw records on disk while Kafka cannot take them and forwards
// them, oldest first, once it can.
type spooler struct {
	spool  *spool.Spool
	client *kgo.Client
	topic  string
	// topicReady reports whether the raw topic was checked: until then
	// there is nothing to forward to.
	topicReady func() bool
	metrics    *metrics
	logger     *slog.Logger

	// spooling is set from the first record spooled until the spool is
	// empty again; since is when it was set (Unix ms).
	spooling atomic.Bool
	since    atomic.Int64
}

// holding reports whether records wait in the spool (or are being appended):
// new records must then queue behind them.
func (s *spooler) holding() bool { return !s.spool.Empty() }

// append writes rec to the spool and returns once it is fsync'd.
func (s *spooler) append(ctx context.Context, rec *kgo.Record, reason string) error {
	if s.spooling.CompareAndSwap(false, true) {
		s.since.Store(time.Now().UnixMilli())
		s.logger.Warn("spooling webhooks to disk until kafka takes them", "reason", reason)
	}
	return s.spool.Append(ctx, encodeRecord(rec))
}

// resume notes records left in the spool by an earlier run: they are
// forwarded first, and new records queue behind them.
func (s *spooler) resume() {
	st := s.spool.Stats()
	if st.Records == 0 {
		return
	}
	s.spooling.Store(true)
	s.since.Store(st.Oldest.UnixMilli())
	s.logger.Warn("forwarding records spooled by an earlier run", "records", st.Records, "oldest", st.Oldest.UTC())
}

// ready reports whether a record of n bytes would be spooled now.
func (s *spooler) ready(n int) error {
	ok, err := s.spool.Room(n)
	if err != nil {
		return err
	}
	if !ok {
		return spool.ErrFull
	}
	return nil
}

// forward produces spooled records to the raw topic in order until ctx ends,
// removing them from the spool once Kafka acknowledged them. A failure is
// retried from the first record not acknowledged; records after it that did
// land are produced again, a duplicate that event ids absorb. Records are
// handed to the client only while Kafka answers (the raw topic checked, and
// a ping after a failure), so an outage does not fill the client's buffer
// with records it can only time out.
func (s *spooler) forward(ctx context.Context) {
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	failed := false
	for ctx.Err() == nil {
		s.noteDrained()
		if !s.topicReady() || (failed && !s.kafkaAnswers(ctx)) {
			backoff.Sleep(ctx, retry.Next())
			continue
		}
		recs, err := s.spool.Peek(ctx, forwardBatchBytes)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.metrics.forwardErrors.Inc()
			s.logger.Error("reading the spool", "err", err)
			backoff.Sleep(ctx, retry.Next())
			continue
		}
		n, err := s.produce(ctx, recs)
		if n > 0 {
			if err := s.spool.Ack(recs[n-1]); err != nil {
				s.logger.Error("removing forwarded records from the spool", "err", err)
			}
			s.metrics.forwarded.Add(float64(n))
		}
		failed = err != nil
		if err == nil {
			retry.Reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.metrics.forwardErrors.Inc()
		wait := retry.Next()
		s.logger.Warn("kafka did not take spooled records; retrying", "err", err, "pending", len(recs)-n, "backoff", wait)
		backoff.Sleep(ctx, wait)
	}
}

// kafkaAnswers pings Kafka with a bound, so a hung broker does not stall
// the forwarder.
func (s *spooler) kafkaAnswers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.client.Ping(ctx) == nil
}

// noteDrained logs the end of a spooling period once the spool is empty.
func (s *spooler) noteDrained() {
	if s.spooling.Load() && s.spool.Empty() && s.spooling.CompareAndSwap(true, false) {
		s.logger.Info("spool drained; producing to kafka directly again",
			"spooled_for", time.Since(time.UnixMilli(s.since.Load())).Round(time.Millisecond).String())
	}
}

// produce sends recs and returns how many of them, from the first, Kafka
// acknowledged, with the first error. Records of one key share a partition,
// where the idempotent producer keeps their order.
func (s *spooler) produce(ctx context.Context, recs []spool.Record) (int, error) {
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	for i, r := range recs {
		rec, err := decodeRecord(r.Data)
		if err != nil {
			errs[i] = err
			break
		}
		rec.Topic = s.topic
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: kafka.HeaderSpooledAt, Value: []byte(strconv.FormatInt(r.AppendedAt.UnixMilli(), 10))})
		wg.Add(1)
		s.client.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			errs[i] = err
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Shutting down: what lands now is read again after a restart.
		return 0, ctx.Err()
	}
	for i, err := range errs {
		if err != nil {
			return i, err
		}
	}
	return len(recs), nil
}

// A spooled record is its key, headers and value:
//
//	uvarint  key length + 1 (0: no key), key
//	uvarint  header count, then per header: uvarint length, key, uvarint length, value
//	value    the rest
func encodeRecord(rec *kgo.Record) []byte {
	n := 2*binary.MaxVarintLen64 + len(rec.Key) + len(rec.Value)
	for _, h := range rec.Headers {
		n += 2*binary.MaxVarintLen64 + len(h.Key) + len(h.Value)
	}
	b := make([]byte, 0, n)
	if rec.Key == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(rec.Key))+1)
		b = append(b, rec.Key...)
	}
	b = binary.AppendUvarint(b, uint64(len(rec.Headers)))
	for _, h := range rec.Headers {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = binary.AppendUvarint(b, uint64(len(h.Value)))
		b = append(b, h.Value...)
	}
	return append(b, rec.Value...)
}

var errBadSpooledRecord = errors.New("spooled record does not decode")

func decodeRecord(b []byte) (*kgo.Record, error) {
	rec := &kgo.Record{}
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)-w) {
			return nil, false
		}
		f := b[w : w+int(n)]
		b = b[w+int(n):]
		return f, true
	}
	k, w := binary.Uvarint(b)
	if w <= 0 || (k > 0 && k-1 > uint64(len(b)-w)) {
		return nil, errBadSpooledRecord
	}
	b = b[w:]
	if k > 0 {
		rec.Key, b = b[:k-1], b[k-1:]
	}
	count, w := binary.Uvarint(b)
	if w <= 0 || count > uint64(len(b)) {
		return nil, errBadSpooledRecord
	}
	b = b[w:]
	rec.Headers = make([]kgo.RecordHeader, 0, count+1)
	for range count {
		hk, ok1 := field()
		hv, ok2 := field()
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: header", errBadSpooledRecord)
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: string(hk), Value: hv})
	}
	rec.Value = b
	return rec, nil
}
