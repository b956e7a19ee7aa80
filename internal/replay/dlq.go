package replay

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/kafka"
)

// DLQOptions select the dead letters to send back.
type DLQOptions struct {
	// Reason, when set, keeps only dead letters with that reftrail-dlq-reason.
	Reason string
	Period Period
	// DryRun counts what would be sent and sends nothing.
	DryRun bool
	// Now stamps reftrail-replayed-at; time.Now when zero.
	Now time.Time
}

// DLQSummary is what a dead-letter replay did. Sent counts by reason.
type DLQSummary struct {
	Read int64
	Sent map[string]int64
	// AlreadyReplayed were dead letters of replayed records (the fix did not
	// help them), or dead letters whose replay already failed that way: none
	// is sent again.
	AlreadyReplayed int64
	// Copies were further dead letters of a raw record already sent back in
	// this run (a raw record dead-lettered again by replay raw).
	Copies int64
	// OtherReason did not match DLQOptions.Reason.
	OtherReason int64
	// NoPayload were dead-lettered without their bytes (too large for Kafka);
	// the raw topic still holds them at reftrail-raw-partition/offset, and
	// replay raw reaches them.
	NoPayload int64
}

// TotalSent sums Sent.
func (s DLQSummary) TotalSent() int64 {
	var n int64
	for _, v := range s.Sent {
		n += v
	}
	return n
}

// Reasons returns Sent's reasons, sorted.
func (s DLQSummary) Reasons() []string {
	var rs []string
	for r := range s.Sent {
		rs = append(rs, r)
	}
	sort.Strings(rs)
	return rs
}

// dlqHeaders are the headers enrich adds to a raw record's when it
// dead-letters it; the rest are the raw record's own.
var dlqHeaders = []string{kafka.HeaderDLQReason, kafka.HeaderDLQDetail, kafka.HeaderDLQStage, kafka.HeaderRawPartition, kafka.HeaderRawOffset}

// DeadLetters reads the dead letters of dlqTopic in opts.Period and sends them
// back to rawTopic as raw records: the original key, value and headers plus
// reftrail-replayed-at, in one transaction per batch. enrich then decodes them
// with its current decoder. A dead letter that carries reftrail-replayed-at
// came from a replayed record that failed again and is skipped, and so is
// every dead letter of the raw record it was replayed from
// (reftrail-replayed-from names it), so a payload that still fails goes round
// once, not in a loop. A raw record dead-lettered more than once (by replay
// raw) is sent back once per run. A dead letter whose replay succeeded is sent
// again by a later run; that only derives the same events again, with the
// same event ids.
func DeadLetters(ctx context.Context, cfg Config, dlqTopic, rawTopic string, opts DLQOptions) (DLQSummary, error) {
	sum := DLQSummary{Sent: map[string]int64{}}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	stamp := []byte(strconv.FormatInt(opts.Now.UnixMilli(), 10))
	spans, err := listSpans(ctx, cfg, dlqTopic, opts.Period)
	if err != nil {
		return sum, err
	}
	// The dead letters of failed replays come after their originals, up to
	// the end of the topic: find them first.
	failedAgain, err := replayedFrom(ctx, cfg, dlqTopic, Period{From: opts.Period.From})
	if err != nil {
		return sum, err
	}
	r, err := newClient(cfg, dlqTopic, spans)
	if err != nil {
		return sum, err
	}
	defer r.client.Close()
	sentBack := map[string]bool{}
	for {
		dls, err := r.poll(ctx, cfg.batch())
		if err != nil {
			return sum, err
		}
		if len(dls) == 0 {
			return sum, nil
		}
		var out []*kgo.Record
		sent := map[string]int64{}
		for _, dl := range dls {
			sum.Read++
			reason := header(dl.Headers, kafka.HeaderDLQReason)
			origin := rawOrigin(dl)
			switch {
			case kafka.Replayed(dl.Headers) || failedAgain[origin]:
				sum.AlreadyReplayed++
			case opts.Reason != "" && reason != opts.Reason:
				sum.OtherReason++
			case dl.Value == nil:
				sum.NoPayload++
			case sentBack[origin]:
				sum.Copies++
			default:
				sentBack[origin] = true
				sent[reason]++
				out = append(out, rawRecord(dl, rawTopic, stamp, origin))
			}
		}
		if !opts.DryRun && len(out) > 0 {
			if err := commit(ctx, r.client, out); err != nil {
				return sum, fmt.Errorf("sending %d dead letters back from %s/%d offset %d: %w", len(out), dlqTopic, dls[0].Partition, dls[0].Offset, err)
			}
		}
		for k, v := range sent {
			sum.Sent[k] += v
		}
		verb := "sent back"
		if opts.DryRun {
			verb = "would send back"
		}
		cfg.progress("read %d dead letters of up to %d, %s %d", sum.Read, r.total, verb, sum.TotalSent())
	}
}

// rawRecord rebuilds the raw record a dead letter was made of, marked as
// replayed.
func rawRecord(dl *kgo.Record, rawTopic string, stamp []byte, from string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(dl.Headers)+2)
	for _, h := range dl.Headers {
		if !slices.Contains(dlqHeaders, h.Key) {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kgo.RecordHeader{Key: kafka.HeaderReplayedAt, Value: stamp},
		kgo.RecordHeader{Key: kafka.HeaderReplayedFrom, Value: []byte(from)})
	return &kgo.Record{Topic: rawTopic, Key: dl.Key, Value: dl.Value, Headers: headers}
}

func header(headers []kgo.RecordHeader, key string) string {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// rawOrigin names the raw record a dead letter was made of, as
// reftrail-replayed-from does: "partition/offset" in the raw topic from its
// lineage headers, or its own DLQ position ("dlq:partition/offset") when it
// has none.
func rawOrigin(dl *kgo.Record) string {
	p, o := header(dl.Headers, kafka.HeaderRawPartition), header(dl.Headers, kafka.HeaderRawOffset)
	if p == "" || o == "" {
		return "dlq:" + strconv.Itoa(int(dl.Partition)) + "/" + strconv.FormatInt(dl.Offset, 10)
	}
	return p + "/" + o
}

// replayedFrom returns the raw records named by the reftrail-replayed-from
// headers of the dead letters in period: those whose replay failed.
func replayedFrom(ctx context.Context, cfg Config, dlqTopic string, period Period) (map[string]bool, error) {
	spans, err := listSpans(ctx, cfg, dlqTopic, period)
	if err != nil {
		return nil, err
	}
	r, err := newClient(Config{Kafka: cfg.Kafka, Logger: cfg.Logger}, dlqTopic, spans)
	if err != nil {
		return nil, err
	}
	defer r.client.Close()
	seen := map[string]bool{}
	for {
		dls, err := r.poll(ctx, 10000)
		if err != nil || len(dls) == 0 {
			return seen, err
		}
		for _, dl := range dls {
			if from := header(dl.Headers, kafka.HeaderReplayedFrom); from != "" {
				seen[from] = true
			}
		}
	}
}
