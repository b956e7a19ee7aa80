package main

import (
	"testing"
	"time"
)

func TestSpan(t *testing.T) {
	tests := map[time.Duration]string{
		0:                "0 seconds",
		time.Second:      "1 second",
		59 * time.Second: "59 seconds",
		90 * time.Second: "90 seconds",
		2 * time.Minute:  "2 minutes",
		90 * time.Minute: "90 minutes",
		2 * time.Hour:    "2 hours",
		47 * time.Hour:   "47 hours",
		48 * time.Hour:   "2 days",
	}
	for d, want := range tests {
		if got := span(d); got != want {
			t.Errorf("span(%v) = %q, want %q", d, got, want)
		}
	}
}
