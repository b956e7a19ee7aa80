package chstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DeletionRequest is a row of deletion_requests: one data deletion request
// and its status (internal/deletion holds the request itself).
type DeletionRequest struct {
	Code, UserID, Status string
	IssuedAt, ReceivedAt time.Time
	FinishedAt           time.Time // zero until processed
	People               uint32
	RowsRemoved          uint64
	UpdatedAt            time.Time
}

// RecordDeletionRequests writes reqs to database.deletion_requests, where the
// latest update of a code wins.
func RecordDeletionRequests(ctx context.Context, conn driver.Conn, database string, reqs []DeletionRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+database+".deletion_requests (confirmation_code, user_id, issued_at, received_at, status, finished_at, people, rows_removed, updated_ms)")
	if err != nil {
		return fmt.Errorf("recording deletion requests: %w", err)
	}
	defer batch.Close()
	for _, r := range reqs {
		finished := r.FinishedAt
		if finished.IsZero() {
			finished = time.Unix(0, 0)
		}
		if err := batch.Append(r.Code, r.UserID, r.IssuedAt.UTC(), r.ReceivedAt.UTC(), r.Status, finished.UTC(), r.People, r.RowsRemoved, uint64(r.UpdatedAt.UnixMilli())); err != nil {
			return fmt.Errorf("recording deletion requests: %w", err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("recording deletion requests: %w", err)
	}
	return nil
}

// MappedPeople returns the participants deletion_mappings links to an
// app-scoped Meta user id.
func MappedPeople(ctx context.Context, conn driver.Conn, database, appUserID string) ([]Person, error) {
	rows, err := conn.Query(ctx, "SELECT platform, account_id, participant_id FROM "+database+".deletion_mappings FINAL WHERE app_user_id = "+quoteString(appUserID)+" ORDER BY platform, account_id, participant_id")
	if err != nil {
		return nil, fmt.Errorf("reading deletion mappings: %w", err)
	}
	defer rows.Close()
	var people []Person
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.Platform, &p.AccountID, &p.ParticipantID); err != nil {
			return nil, fmt.Errorf("reading deletion mappings: %w", err)
		}
		people = append(people, p)
	}
	return people, rows.Err()
}
