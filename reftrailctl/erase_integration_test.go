package main

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/event"
)

// TestIntegrationEraseCommand erases a person through run, dry first, and
// checks what it prints and that the person's history is empty afterwards
// while another person's stays.
func TestIntegrationEraseCommand(t *testing.T) {
	other := referral("bio_link", 1763800000000, "h:9")
	other.ParticipantID = "911"
	env := chEnv(t, []event.Event{referral("spring_sale_qr", 1763700000000, "h:1"), referral("bio_link", 1763800000000, "h:2"), other})
	env["USER"] = "operator"
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	erase := func(args ...string) [][]string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"erase", "--platform", "Instagram", "--account", "178", "--participant", "910"}, args...), getenv, &out, io.Discard); err != nil {
			t.Fatalf("erase %v = %v", args, err)
		}
		return table(out.String())
	}
	history := func(participant string) int {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, []string{"query", "participant_history", "platform=instagram", "account=178", "participant=" + participant}, getenv, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		return len(table(out.String())) - 1
	}
	dry := erase("--dry-run")
	if diff := cmp.Diff([]string{"would", "erase", "(dry", "run)", "INSTAGRAM", "178", "910"}, dry[0]); diff != "" {
		t.Errorf("dry run first line (-want +got):\n%s", diff)
	}
	if history("910") != 2 {
		t.Fatalf("a dry run erased")
	}
	got := erase()
	want := [][]string{
		{"erased", "INSTAGRAM", "178", "910"},
		{"table", "rows"},
		{"events", "2"},
		{"message_windows", "2"},
		{"participant_state", "1"},
		{"referral_outcomes", "0"},
		{"campaign_daily_agg", "2"},
		{"dead_letters", "0"},
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("erase printed (-want +got):\n%s", diff)
	}
	if n := history("910"); n != 0 {
		t.Errorf("after erase: %d history rows of the person, want 0", n)
	}
	if n := history("911"); n != 1 {
		t.Errorf("after erase: %d history rows of another person, want 1", n)
	}
}
