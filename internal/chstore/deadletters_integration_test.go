package chstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
)

func TestIntegrationDeadLetterReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	dl := func(offset int64, reason, stage string, minutes int) chstore.DeadLetter {
		return chstore.DeadLetter{
			RawTopic: "meta.webhooks.raw", RawPartition: 0, RawOffset: offset, Reason: reason, Stage: stage,
			Detail: "entry[0]: " + reason, Payload: []byte(`{"text":"[redacted]"}`),
			Headers:      []chstore.Header{{Key: "reftrail-received-at", Value: []byte("1")}},
			ReceivedTime: t0.Add(time.Duration(minutes) * time.Minute).UnixMilli(),
		}
	}
	first := []chstore.DeadLetter{
		dl(1, "invalid_json", "enrich", 0), dl(2, "invalid_json", "enrich", 1),
		dl(3, "not_meta_envelope", "enrich", 2), dl(4, "invalid_json", "enrich", 90),
	}
	// Offset 2 arrives twice (at-least-once); offset 3 is dead-lettered
	// again after a replay, by sink this time: the latest insert wins.
	again := []chstore.DeadLetter{dl(2, "invalid_json", "enrich", 1), dl(3, "schema_mismatch", "sink", 2)}
	if err := e.store.InsertDeadLetters(ctx, first, t0); err != nil {
		t.Fatal(err)
	}
	if err := e.store.InsertDeadLetters(ctx, again, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	counts, err := e.store.DeadLetterCounts(ctx, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("DeadLetterCounts: %v", err)
	}
	wantCounts := []chstore.DeadLetterCount{{"invalid_json", "enrich", 2}, {"schema_mismatch", "sink", 1}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("DeadLetterCounts (-want +got):\n%s", diff)
	}

	recent, err := e.store.RecentDeadLetters(ctx, t0, t0.Add(2*time.Hour), 3)
	if err != nil {
		t.Fatalf("RecentDeadLetters: %v", err)
	}
	info := func(offset int64, reason, stage string, minutes int) chstore.DeadLetterInfo {
		return chstore.DeadLetterInfo{
			RawTopic: "meta.webhooks.raw", RawOffset: offset, Reason: reason, Stage: stage, Detail: "entry[0]: " + reason,
			ReceivedAt: t0.Add(time.Duration(minutes) * time.Minute), HeaderKeys: []string{"reftrail-received-at"},
		}
	}
	wantRecent := []chstore.DeadLetterInfo{
		info(4, "invalid_json", "enrich", 90), info(3, "schema_mismatch", "sink", 2), info(2, "invalid_json", "enrich", 1),
	}
	if diff := cmp.Diff(wantRecent, recent); diff != "" {
		t.Errorf("RecentDeadLetters (-want +got):\n%s", diff)
	}
	if _, err := e.store.RecentDeadLetters(ctx, t0, t0.Add(time.Hour), chstore.MaxRecentDeadLetters+1); err == nil {
		t.Error("RecentDeadLetters above the cap: no error")
	}
}
