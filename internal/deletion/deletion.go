// Package deletion is the record of Meta's data deletion requests: what
// ingest writes when Meta calls the data deletion callback, what reftrailctl
// deletions process writes when it has handled one, and the book both read
// them into. The records live in a compacted Kafka topic (DELETION_TOPIC)
// keyed by confirmation code, so the latest record of a code is its status.
package deletion

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Status is where a request stands.
type Status string

const (
	// Received: recorded, not processed yet.
	Received Status = "received"
	// NoMatch: processed; no mapping links Meta's app-scoped user id to a
	// participant, so nothing could be identified and nothing was erased.
	NoMatch Status = "no_match"
	// Erased: processed; every participant mapped to the user id was erased.
	Erased Status = "erased"
)

// Request is one data deletion request and its status.
type Request struct {
	Code string `json:"confirmation_code"`
	// UserID is Meta's app-scoped user id: personal data, never shown on
	// the status page.
	UserID     string    `json:"user_id"`
	IssuedAt   time.Time `json:"issued_at"`
	ReceivedAt time.Time `json:"received_at"`
	Status     Status    `json:"status"`
	UpdatedAt  time.Time `json:"updated_at"`
	// FinishedAt, People and RowsRemoved are set once processed.
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	People      int       `json:"people,omitempty"`
	RowsRemoved uint64    `json:"rows_removed,omitempty"`
}

// NewCode returns a confirmation code: 26 random letters and digits
// (crypto/rand.Text), unguessable, so the status page needs no login.
func NewCode() string { return rand.Text() }

// Record returns r as a record of topic, keyed by its code.
func (r Request) Record(topic string) (*kgo.Record, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding deletion request: %w", err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(r.Code), Value: b}, nil
}

// Parse reads a record written by Record.
func Parse(rec *kgo.Record) (Request, error) {
	var r Request
	if err := json.Unmarshal(rec.Value, &r); err != nil {
		return r, fmt.Errorf("decoding deletion request at %d/%d: %w", rec.Partition, rec.Offset, err)
	}
	if r.Code == "" || r.Code != string(rec.Key) {
		return r, fmt.Errorf("decoding deletion request at %d/%d: code %q does not match the key", rec.Partition, rec.Offset, r.Code)
	}
	return r, nil
}

// Book holds the latest status of every request by code. It is safe for
// concurrent use.
type Book struct {
	mu     sync.RWMutex
	byCode map[string]Request
}

// NewBook returns an empty Book.
func NewBook() *Book { return &Book{byCode: map[string]Request{}} }

// Put records r unless the book holds a newer update of its code.
func (b *Book) Put(r Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.byCode[r.Code]; ok && old.UpdatedAt.After(r.UpdatedAt) {
		return
	}
	b.byCode[r.Code] = r
}

// Get returns the request of code.
func (b *Book) Get(code string) (Request, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r, ok := b.byCode[code]
	return r, ok
}

// All returns every request, in no order.
func (b *Book) All() []Request {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Request, 0, len(b.byCode))
	for _, r := range b.byCode {
		out = append(out, r)
	}
	return out
}

// Follow puts every record client consumes into b until ctx ends. Records it
// cannot read are logged and skipped: one bad record must not hide the
// others' status.
func Follow(ctx context.Context, client *kgo.Client, b *Book, logger *slog.Logger) {
	for {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			logger.Warn("reading deletion requests", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			r, err := Parse(rec)
			if err != nil {
				logger.Warn("skipping deletion request record", "err", err)
				return
			}
			b.Put(r)
		})
	}
}

// idleWait is how long ReadAll waits on a quiet topic before it counts it as
// read: compaction leaves offsets no record fills, so the end offset may never
// be reached by a record. A partition that has given no record yet may only
// be slow to answer (a loaded broker, the first fetch): quiet polls count
// only once every partition holding records gave one, or after
// firstRecordWait.
const (
	idleWait        = 2 * time.Second
	firstRecordWait = 30 * time.Second
)

// ReadAll reads topic from the start to its current end into a new Book.
// client must consume nothing yet; ReadAll assigns it topic's partitions.
func ReadAll(ctx context.Context, client *kgo.Client, topic string) (*Book, error) {
	ends, err := kadm.NewClient(client).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("listing offsets of %s: %w", topic, err)
	}
	book := NewBook()
	next := map[int32]int64{}
	start := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			start[o.Partition] = kgo.NewOffset().AtStart()
			next[o.Partition] = 0
		}
	})
	if len(start) == 0 {
		return book, nil
	}
	client.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: start})
	done := func() bool {
		for p, n := range next {
			if e, _ := ends.Lookup(topic, p); n < e.Offset {
				return false
			}
		}
		return true
	}
	begun := time.Now()
	allGaveOne := func() bool {
		for _, n := range next {
			if n == 0 {
				return false
			}
		}
		return true
	}
	for !done() {
		pollCtx, cancel := context.WithTimeout(ctx, idleWait)
		fetches := client.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var errs []error
		fetches.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, fmt.Errorf("reading %s/%d: %w", topic, p, err))
			}
		})
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		if fetches.NumRecords() == 0 {
			if allGaveOne() || time.Since(begun) > firstRecordWait {
				break
			}
			continue
		}
		var bad error
		fetches.EachRecord(func(rec *kgo.Record) {
			next[rec.Partition] = rec.Offset + 1
			r, err := Parse(rec)
			if err != nil {
				bad = err
				return
			}
			book.Put(r)
		})
		if bad != nil {
			return nil, bad
		}
	}
	return book, nil
}
