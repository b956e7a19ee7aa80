package deletion

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/reftrail/reftrail/internal/dev/kafkatest"
)

func TestRecordRoundTrip(t *testing.T) {
	at := time.Date(2025, 11, 25, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		req  Request
	}{
		{name: "received", req: Request{Code: "ABC", UserID: "1023", IssuedAt: at, ReceivedAt: at, Status: Received, UpdatedAt: at}},
		{name: "erased", req: Request{Code: "ABC", UserID: "1023", IssuedAt: at, ReceivedAt: at, Status: Erased, UpdatedAt: at.Add(time.Minute),
			FinishedAt: at.Add(time.Minute), People: 2, RowsRemoved: 31}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := tt.req.Record("topic")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Topic != "topic" || string(rec.Key) != tt.req.Code {
				t.Errorf("record topic %q key %q, want topic keyed by the code", rec.Topic, rec.Key)
			}
			got, err := Parse(rec)
			if diff := cmp.Diff(tt.req, got); diff != "" || err != nil {
				t.Errorf("Parse (-want +got):\n%s (err %v)", diff, err)
			}
		})
	}
	rec, _ := tests[0].req.Record("topic")
	rec.Key = []byte("OTHER")
	if _, err := Parse(rec); err == nil {
		t.Error("Parse accepted a record whose key is not its code")
	}
}

// TestBookKeepsTheLatest checks that an older update arriving late (ingest
// puts a request it just recorded while its follower may already have read
// the outcome) does not hide the newer status.
func TestBookKeepsTheLatest(t *testing.T) {
	at := time.Date(2025, 11, 25, 8, 0, 0, 0, time.UTC)
	b := NewBook()
	done := Request{Code: "ABC", Status: NoMatch, UpdatedAt: at.Add(time.Minute)}
	b.Put(done)
	b.Put(Request{Code: "ABC", Status: Received, UpdatedAt: at})
	if got, _ := b.Get("ABC"); got.Status != NoMatch {
		t.Errorf("status = %s, want the newer %s", got.Status, NoMatch)
	}
	if _, ok := b.Get("XYZ"); ok {
		t.Error("Get found an unknown code")
	}
	if n := len(b.All()); n != 1 {
		t.Errorf("All = %d requests, want 1", n)
	}
}

func TestNewCode(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		c := NewCode()
		if !regexp.MustCompile(`^[A-Z2-7]{26}$`).MatchString(c) || seen[c] {
			t.Fatalf("NewCode = %q: want 26 letters and digits, never repeated", c)
		}
		seen[c] = true
	}
}

// TestReadAllEndsAtOffsetsNoRecordFills writes requests in a transaction, so
// that each partition ends with a commit marker no record fills: ReadAll must
// still return every request, once the topic is quiet.
func TestReadAllEndsAtOffsetsNoRecordFills(t *testing.T) {
	const topic = "deletions"
	brokers := kafkatest.Brokers(t, kfake.SeedTopics(2, topic))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("deletion-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	codes := []string{"CODEA", "CODEB", "CODEC", "CODED", "CODEE", "CODEF"}
	produceRequests(ctx, t, producer, topic, codes)
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}

	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	readAllWants(ctx, t, reader, topic, codes)
}

// TestReadAllWaitsForASlowFirstFetch answers ReadAll's first fetch later
// than idleWait, as a loaded broker may: ReadAll must wait for it rather than
// count the quiet topic as read and return an empty book.
func TestReadAllWaitsForASlowFirstFetch(t *testing.T) {
	const topic = "deletions"
	cluster := kafkatest.NewFake(t, kfake.SeedTopics(2, topic))
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	codes := []string{"CODEA", "CODEB", "CODEC", "CODED"}
	produceRequests(ctx, t, producer, topic, codes)
	cluster.ControlKey(kmsg.Fetch.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.DropControl()
		cluster.SleepControl(func() { time.Sleep(idleWait + time.Second) })
		return nil, nil, false
	})

	reader, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	readAllWants(ctx, t, reader, topic, codes)
}

// produceRequests produces a received request for each code, its user id
// "user-" + code.
func produceRequests(ctx context.Context, t *testing.T, producer *kgo.Client, topic string, codes []string) {
	t.Helper()
	at := time.Date(2025, 11, 25, 8, 0, 0, 0, time.UTC)
	for _, code := range codes {
		rec, err := Request{Code: code, UserID: "user-" + code, IssuedAt: at, ReceivedAt: at, Status: Received, UpdatedAt: at}.Record(topic)
		if err != nil {
			t.Fatal(err)
		}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// readAllWants reads topic with ReadAll and checks the book holds the
// request of each code that produceRequests wrote.
func readAllWants(ctx context.Context, t *testing.T, reader *kgo.Client, topic string, codes []string) {
	t.Helper()
	book, err := ReadAll(ctx, reader, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range codes {
		if r, ok := book.Get(code); !ok || r.UserID != "user-"+code {
			t.Errorf("book.Get(%s) = %+v, %v; want the request", code, r, ok)
		}
	}
}
