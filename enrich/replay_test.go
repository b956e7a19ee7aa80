package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/replay"
)

// TestReplayDeadLettersThroughEnrich sends dead letters back with
// replay.DeadLetters (reftrailctl replay dlq) while enrich runs: one that an
// older decoder refused and today's decodes, which becomes its events; one
// that still fails, which returns to the DLQ once, marked; a copy of a dead
// letter, sent back once; and a second replay that sends neither back again.
func TestReplayDeadLettersThroughEnrich(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	startEnrich(t, brokers, nil)
	raws := produceRaw(t, brokers, [][]byte{[]byte(`{"object":"page","entry":[`)})
	dead := readCommitted(t, brokers, dlqTopic, 1, 300*time.Millisecond)
	if len(dead) != 1 || headerMap(dead[0])[kafka.HeaderDLQStage] != "decode" {
		t.Fatalf("before replay: %d dead letters, want 1 of stage decode", len(dead))
	}

	// A dead letter as an older enrich would have written it for a payload
	// that today's decoder reads.
	const good = `{"object":"page","entry":[{"id":"106000000000001","time":1763700000000,"messaging":[` +
		`{"sender":{"id":"2400000000000001"},"recipient":{"id":"106000000000001"},"timestamp":1763700000000,"referral":{"ref":"qr_menu","source":"SHORTLINK","type":"OPEN_THREAD"}}]}]}`
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	old := &kgo.Record{Topic: dlqTopic, Key: []byte("106000000000001"), Value: []byte(good), Headers: []kgo.RecordHeader{
		{Key: kafka.HeaderReceivedAt, Value: []byte("1763700000500")},
		{Key: kafka.HeaderRequestID, Value: []byte("req-old")},
		{Key: kafka.HeaderDLQReason, Value: []byte("missing_sender")},
		{Key: kafka.HeaderDLQDetail, Value: []byte("entry[0].messaging[0]: a bug since fixed")},
		{Key: kafka.HeaderDLQStage, Value: []byte("decode")},
		{Key: kafka.HeaderRawPartition, Value: []byte("0")},
		{Key: kafka.HeaderRawOffset, Value: []byte("99")},
	}}
	// Twice, as replay raw would dead-letter the same raw record again.
	oldCopy := *old
	if err := cl.ProduceSync(context.Background(), old, &oldCopy).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cfg := replay.Config{Kafka: kafka.Config{Brokers: brokers}, TransactionalID: "test-replay-dlq", Logger: slog.New(slog.DiscardHandler)}
	sum, err := replay.DeadLetters(context.Background(), cfg, dlqTopic, rawTopic, replay.DLQOptions{})
	if err != nil {
		t.Fatalf("first replay: %v", err)
	}
	if sum.Read != 3 || sum.TotalSent() != 2 || sum.Sent["invalid_json"] != 1 || sum.Sent["missing_sender"] != 1 || sum.Copies != 1 {
		t.Fatalf("first replay = %+v, want both raw records sent back once", sum)
	}

	// The fixed payload becomes its event, with the original receipt time.
	events := readCommitted(t, brokers, eventsTopic, 1, 300*time.Millisecond)
	if len(events) != 1 {
		t.Fatalf("after replay: %d events, want 1", len(events))
	}
	// The still-broken one is dead-lettered once more, marked.
	dead = readCommitted(t, brokers, dlqTopic, 4, time.Second)
	if len(dead) != 4 {
		t.Fatalf("after replay: %d dead letters, want 4", len(dead))
	}
	var marked []*kgo.Record
	for _, r := range dead {
		if headerMap(r)[kafka.HeaderReplayedAt] != "" {
			marked = append(marked, r)
		}
	}
	if len(marked) != 1 {
		t.Fatalf("after replay: %d dead letters carry %s, want 1", len(marked), kafka.HeaderReplayedAt)
	}
	again := headerMap(marked[0])
	if again[kafka.HeaderDLQStage] != "decode_replayed" || again[kafka.HeaderDLQReason] != "invalid_json" ||
		again[kafka.HeaderRequestID] != "req-0" || again[kafka.HeaderReceivedAt] != headerMap(raws[0])[kafka.HeaderReceivedAt] ||
		string(marked[0].Value) != string(raws[0].Value) {
		t.Errorf("dead letter of the replay = %v, want stage decode_replayed, the replay mark and the original headers and bytes", again)
	}

	// A second replay sends back neither the marked dead letter nor its
	// original; the fixed one again (it only derives the same event id).
	sum, err = replay.DeadLetters(context.Background(), cfg, dlqTopic, rawTopic, replay.DLQOptions{Reason: "invalid_json"})
	if err != nil {
		t.Fatalf("second replay: %v", err)
	}
	if sum.Read != 4 || sum.TotalSent() != 0 || sum.AlreadyReplayed != 2 || sum.OtherReason != 2 {
		t.Errorf("second replay = %+v, want nothing sent: 2 already replayed, 2 of another reason", sum)
	}
	time.Sleep(time.Second)
	if n := len(readCommitted(t, brokers, dlqTopic, 4, 500*time.Millisecond)); n != 4 {
		t.Errorf("after the second replay: %d dead letters, want still 4", n)
	}
}
