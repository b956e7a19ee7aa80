package main

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

func TestWithGrace(t *testing.T) {
	t.Run("outlives its parent by the grace period", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		graceCtx, cancel := withGrace(parent, 50*time.Millisecond)
		defer cancel()
		cancelParent()
		if err := graceCtx.Err(); err != nil {
			t.Fatalf("right after the parent's cancel, Err() = %v, want nil", err)
		}
		select {
		case <-graceCtx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("not done 10s after a 50ms grace")
		}
	})
	t.Run("lives while its parent does", func(t *testing.T) {
		graceCtx, cancel := withGrace(context.Background(), 0)
		defer cancel()
		select {
		case <-graceCtx.Done():
			t.Fatalf("done with its parent alive: %v", graceCtx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	})
	t.Run("ends at once by its own cancel", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		defer cancelParent()
		graceCtx, cancel := withGrace(parent, time.Hour)
		cancel()
		if graceCtx.Err() == nil {
			t.Fatal("Err() = nil after cancel")
		}
	})
}

// TestFinishWritePutsAFailedBatchBack checks that a write that failed comes
// back in front of the records polled while it was in flight, in offset
// order, to be decoded again from scratch: nothing is lost, and the rows it
// decoded (or dead letters it added) are not written twice.
func TestFinishWritePutsAFailedBatchBack(t *testing.T) {
	rec := func(offset int64) *kgo.Record {
		return &kgo.Record{Topic: "events", Partition: 0, Offset: offset, Value: make([]byte, 10)}
	}
	met := time.Now().Add(-time.Minute)
	failed := &batch{
		records: []*kgo.Record{rec(0), rec(1)}, bytes: 20, since: met.Add(-time.Second), decoded: 2,
		events: make([]event.Event, 2), eventRecs: []*kgo.Record{rec(0), rec(1)},
		deadLetters: []chstore.DeadLetter{{Reason: reasonRejected}},
	}
	next := &batch{records: []*kgo.Record{rec(2)}, bytes: 10, since: time.Now(), decoded: 1, events: make([]event.Event, 1), eventRecs: []*kgo.Record{rec(2)}, unknownSchemaSince: met}
	done, markDone := context.WithCancel(context.Background())
	markDone()
	writeErr := errors.New("ClickHouse is down")
	s := &sink{batch: next, writing: &inflight{batch: failed, err: writeErr, done: done}}

	if err := s.finishWrite(context.Background(), nil); !errors.Is(err, writeErr) {
		t.Fatalf("finishWrite = %v, want the write's error", err)
	}
	b := s.batch
	var offsets []int64
	for _, r := range b.records {
		offsets = append(offsets, r.Offset)
	}
	if !slices.Equal(offsets, []int64{0, 1, 2}) {
		t.Errorf("batch offsets = %v, want [0 1 2]", offsets)
	}
	if b.bytes != 30 || !b.since.Equal(failed.since) || !b.unknownSchemaSince.Equal(met) {
		t.Errorf("bytes, since, unknownSchemaSince = %d, %v, %v; want 30, the failed batch's, the next batch's", b.bytes, b.since, b.unknownSchemaSince)
	}
	if b.decoded != 0 || len(b.events) != 0 || len(b.eventRecs) != 0 || len(b.deadLetters) != 0 {
		t.Errorf("decoded %d into %d events, %d dead letters; want all to be decoded again", b.decoded, len(b.events), len(b.deadLetters))
	}
	if s.writing != nil || s.spare != next || len(next.records) != 0 {
		t.Errorf("writing = %v, spare = %p holding %d records; want nil and the emptied next batch", s.writing, s.spare, len(next.records))
	}
}
