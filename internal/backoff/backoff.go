// Package backoff paces retries: capped exponential waits that end early when
// the context ends.
package backoff

import (
	"context"
	"time"
)

// Backoff hands out waits that start at Min and double after each, up to Max.
// The zero value waits nothing; set Min and Max.
type Backoff struct {
	Min, Max time.Duration
	next     time.Duration
}

// Next returns the wait before the next attempt and doubles the one after.
func (b *Backoff) Next() time.Duration {
	if b.next == 0 {
		b.next = b.Min
	}
	d := b.next
	b.next = min(2*b.next, b.Max)
	return d
}

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.next = 0 }

// Sleep waits d or until ctx ends, and reports whether it waited d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
