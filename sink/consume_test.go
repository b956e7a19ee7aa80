package main

import (
	"context"
	"testing"
	"time"
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
