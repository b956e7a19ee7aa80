package chstore

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// DeadLetterCount is how many raw records were dead-lettered for a reason at a
// stage.
type DeadLetterCount struct {
	Reason, Stage string
	DeadLetters   uint64
}

// DeadLetterCounts runs queries/dead_letter_counts.sql: the raw records
// received in [from, to) that were dead-lettered, by reason then stage.
func (s *Store) DeadLetterCounts(ctx context.Context, from, to time.Time) ([]DeadLetterCount, error) {
	var out []DeadLetterCount
	err := s.read(ctx, "dead_letter_counts", map[string]any{"from_ms": from.UnixMilli(), "to_ms": to.UnixMilli()}, 0, func(scan func(...any) error) error {
		var d DeadLetterCount
		if err := scan(&d.Reason, &d.Stage, &d.DeadLetters); err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// DeadLetterInfo is a dead letter without its bytes: where the raw record is
// and why it failed. Nothing of the message itself.
type DeadLetterInfo struct {
	RawTopic      string
	RawPartition  int32
	RawOffset     int64
	Reason, Stage string
	// Detail says what was wrong; it never quotes ids, text or refs.
	Detail     string
	ReceivedAt time.Time
	// HeaderKeys are the raw record's header names (their values are not
	// read).
	HeaderKeys []string
}

// MaxRecentDeadLetters caps RecentDeadLetters.
const MaxRecentDeadLetters = 500

// RecentDeadLetters runs queries/dead_letters_recent.sql: the newest n (at
// most MaxRecentDeadLetters) dead letters received in [from, to), newest
// first, without payloads or header values.
func (s *Store) RecentDeadLetters(ctx context.Context, from, to time.Time, n int) ([]DeadLetterInfo, error) {
	if n < 1 || n > MaxRecentDeadLetters {
		return nil, fmt.Errorf("recent dead letters: n %d out of 1..%d", n, MaxRecentDeadLetters)
	}
	var out []DeadLetterInfo
	params := map[string]any{"from_ms": from.UnixMilli(), "to_ms": to.UnixMilli()}
	err := s.read(ctx, "dead_letters_recent", params, n, func(scan func(...any) error) error {
		var (
			d  DeadLetterInfo
			ms int64
		)
		if err := scan(&d.RawTopic, &d.RawPartition, &d.RawOffset, &d.Reason, &d.Stage, &d.Detail, &ms, &d.HeaderKeys); err != nil {
			return err
		}
		d.ReceivedAt = time.UnixMilli(ms).UTC()
		out = append(out, d)
		return nil
	})
	return out, err
}

// read runs the query file name with params, LIMIT limit when above 0, and
// calls row for each row.
func (s *Store) read(ctx context.Context, name string, params map[string]any, limit int, row func(scan func(...any) error) error) error {
	text, err := Query(name)
	if err != nil {
		return err
	}
	q, err := BindQuery(text, params)
	if err != nil {
		return err
	}
	if limit > 0 {
		q += "\nLIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.queries.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("running %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}
