package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DeadLetterCounts runs queries/dead_letter_counts.sql alone: the raw records
// received in [from, to) that were dead-lettered, by reason then stage, as
// PipelineHealth's DeadLetters without its per-minute reads.
func (s *Store) DeadLetterCounts(ctx context.Context, from, to time.Time) ([]DeadLetterCount, error) {
	var out []DeadLetterCount
	err := s.each(ctx, "dead_letter_counts", period(from, to), 0, func(rows driver.Rows) error {
		var d DeadLetterCount
		if err := rows.Scan(&d.Reason, &d.Stage, &d.DeadLetters); err != nil {
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
	err := s.each(ctx, "dead_letters_recent", period(from, to), n, func(rows driver.Rows) error {
		var (
			d  DeadLetterInfo
			ms int64
		)
		if err := rows.Scan(&d.RawTopic, &d.RawPartition, &d.RawOffset, &d.Reason, &d.Stage, &d.Detail, &ms, &d.HeaderKeys); err != nil {
			return err
		}
		d.ReceivedAt = time.UnixMilli(ms).UTC()
		out = append(out, d)
		return nil
	})
	return out, err
}
