package chstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func TestIsRejected(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "a check on the rows", err: fmt.Errorf("sending batch: %w", &clickhouse.Exception{Code: 395, Message: "Value passed to 'throwIf' function is non zero"}), want: true},
		{name: "too many partitions in one block", err: &clickhouse.Exception{Code: 252, Message: "Too many partitions for single INSERT block (more than 100)."}, want: true},
		{name: "too many parts: merges behind", err: &clickhouse.Exception{Code: 252, Message: "Too many parts (300). Merges are processing significantly slower than inserts"}},
		{name: "memory", err: &clickhouse.Exception{Code: 241, Message: "Memory limit (total) exceeded"}},
		{name: "unknown table", err: &clickhouse.Exception{Code: 60, Message: "Table reftrail.events doesn't exist"}},
		{name: "network", err: fmt.Errorf("sending batch: %w", io.ErrUnexpectedEOF)},
		{name: "timeout", err: context.DeadlineExceeded},
		{name: "not a ClickHouse error", err: errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsRejected(tt.err); got != tt.want {
				t.Errorf("IsRejected(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
