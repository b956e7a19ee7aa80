package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/deletion"
	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/kafka"
)

// TestIntegrationDeletionsProcess processes two recorded data deletion
// requests: one whose app-scoped user id the business mapped to a
// participant, who is erased, and one that matches nobody; then checks the
// status records, the ClickHouse copies and the erasure record, and that a
// second run has nothing left to do.
func TestIntegrationDeletionsProcess(t *testing.T) {
	other := referral("bio_link", 1763800000000, "h:9")
	other.ParticipantID = "911"
	env := chEnv(t, []event.Event{referral("spring_sale_qr", 1763700000000, "h:1"), referral("bio_link", 1763800000000, "h:2"), other})
	brokers := kafkatest.Brokers(t)
	env["KAFKA_BROKERS"] = strings.Join(brokers, ",")
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := kafka.EnsureTopics(ctx, cl, kafka.Config{CreateTopics: true, TopicPartitions: 2, TopicReplication: -1}, slog.New(slog.DiscardHandler),
		kafka.Topic{Name: kafka.DefaultDeletionTopic, Compact: true}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 11, 25, 8, 0, 0, 0, time.UTC)
	mapped := deletion.Request{Code: "MAPPEDCODE", UserID: "app-user-1", IssuedAt: at, ReceivedAt: at, Status: deletion.Received, UpdatedAt: at}
	unmapped := deletion.Request{Code: "UNMAPPEDCODE", UserID: "app-user-2", IssuedAt: at, ReceivedAt: at.Add(time.Second), Status: deletion.Received, UpdatedAt: at}
	for _, r := range []deletion.Request{mapped, unmapped} {
		rec, err := r.Record(kafka.DefaultDeletionTopic)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := chstore.Connect(chstore.Config{Addr: env["CLICKHOUSE_ADDR"], Database: env["CLICKHOUSE_DATABASE"], Username: env["CLICKHOUSE_USERNAME"], Password: env["CLICKHOUSE_PASSWORD"]})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO deletion_mappings (app_user_id, platform, account_id, participant_id)")
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Append("app-user-1", "INSTAGRAM", "178", "910"); err != nil {
		t.Fatal(err)
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"deletions", "process"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("deletions process = %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	// 2 events, 2 message_windows rows (both inbound), 1 participant_state row,
	// 2 campaign rows (one insert, one part each).
	want := []string{
		"MAPPEDCODE received 2025-11-25T08:00:00Z: erased, 1 participants, 7 rows removed",
		"UNMAPPEDCODE received 2025-11-25T08:00:01Z: no_match, 0 participants, 0 rows removed",
		"2 requests processed, 2 in all",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("printed (-want +got):\n%s", diff)
	}

	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	book, err := deletion.ReadAll(ctx, reader, kafka.DefaultDeletionTopic)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := book.Get("MAPPEDCODE"); r.Status != deletion.Erased || r.People != 1 || r.RowsRemoved != 7 || r.FinishedAt.IsZero() {
		t.Errorf("mapped request's status record = %+v", r)
	}
	if r, _ := book.Get("UNMAPPEDCODE"); r.Status != deletion.NoMatch || r.People != 0 || r.FinishedAt.IsZero() {
		t.Errorf("unmapped request's status record = %+v", r)
	}

	var statuses []string
	rows, err := conn.Query(ctx, "SELECT concat(confirmation_code, ':', status, ':', toString(people)) FROM deletion_requests FINAL ORDER BY confirmation_code")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		statuses = append(statuses, s)
	}
	rows.Close()
	if diff := cmp.Diff([]string{"MAPPEDCODE:erased:1", "UNMAPPEDCODE:no_match:0"}, statuses); diff != "" {
		t.Errorf("deletion_requests (-want +got):\n%s", diff)
	}
	var request, by string
	if err := conn.QueryRow(ctx, "SELECT request, requested_by FROM erasures WHERE participant_id = '910'").Scan(&request, &by); err != nil || request != "MAPPEDCODE" || by != "data-deletion-callback" {
		t.Errorf("erasure record: request %q by %q (%v), want MAPPEDCODE by data-deletion-callback", request, by, err)
	}

	out.Reset()
	if err := run(ctx, []string{"deletions", "process"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "0 requests processed, 2 in all" {
		t.Errorf("second run printed %q", got)
	}
}
