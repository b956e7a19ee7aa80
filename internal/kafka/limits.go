package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
)

// defaultMaxMessageBytes is what a producer assumes of a topic whose limit it
// has not read yet: franz-go's default batch size, under the broker's default
// max.message.bytes (1,048,588), so no batch is refused for its size.
const defaultMaxMessageBytes = 1_000_012

// recordBatchOverhead bounds the bytes a record batch adds around its records,
// as the broker measures it against max.message.bytes: the 12-byte offset and
// length prefix and the 49-byte v2 batch header.
const recordBatchOverhead = 61

// ProducerLimits sizes a producer's record batches per topic from the topic's
// real max.message.bytes, read from the cluster (Load). A batch larger than the
// limit is refused whole by the broker (MESSAGE_TOO_LARGE), and franz-go grows
// a partition's batch while a produce request is in flight, so one limit for
// every topic (ProducerBatchMaxBytes) turns a slow broker into refused
// batches of valid records on the topics whose limit is lower.
//
// franz-go asks for a topic's limit once, when the producer first meets one of
// its partitions, and keeps it for the client's life. Topics met before Load
// get defaultMaxMessageBytes; Load purges them from the producer (failing the
// records buffered for them at that moment) when their real limit differs, so
// they are sized again.
type ProducerLimits struct {
	mu      sync.Mutex
	bytes   map[string]int32
	guessed map[string]bool
}

// NewProducerLimits returns limits with no topic loaded.
func NewProducerLimits() *ProducerLimits {
	return &ProducerLimits{bytes: map[string]int32{}, guessed: map[string]bool{}}
}

// Opt is the client option that sizes batches by these limits.
func (l *ProducerLimits) Opt() kgo.Opt {
	return kgo.ProducerBatchMaxBytesFn(l.batchMaxBytes)
}

func (l *ProducerLimits) batchMaxBytes(topic string) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.bytes[topic]; ok {
		return n
	}
	if topic != "" {
		l.guessed[topic] = true
	}
	return defaultMaxMessageBytes
}

// Limit returns topic's max.message.bytes as loaded, or the default assumed
// before Load.
func (l *ProducerLimits) Limit(topic string) int32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.bytes[topic]; ok {
		return n
	}
	return defaultMaxMessageBytes
}

// Fits reports whether r, alone in a batch, is within its topic's limit. It
// bounds the record's encoding from above, so a record it accepts is never
// refused for its size; one it refuses may sit a few bytes under the limit.
func (l *ProducerLimits) Fits(r *kgo.Record) bool {
	return recordBound(r) <= int64(l.Limit(r.Topic))
}

// recordBound is an upper bound of r's bytes in a batch of its own: varints
// counted at their widest.
func recordBound(r *kgo.Record) int64 {
	const varint, varlong = 5, 10
	// Length, attributes, timestamp delta, offset delta, key length, value
	// length, header count.
	n := int64(recordBatchOverhead + varint + 1 + varlong + varint + 3*varint)
	n += int64(len(r.Key) + len(r.Value))
	for _, h := range r.Headers {
		n += int64(2*varint + len(h.Key) + len(h.Value))
	}
	return n
}

// Load reads the max.message.bytes of topics, which must exist.
func (l *ProducerLimits) Load(ctx context.Context, client *kgo.Client, topics ...string) error {
	rcs, err := kadm.NewClient(client).DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return fmt.Errorf("describing topics %v: %w", topics, err)
	}
	loaded := make(map[string]int32, len(topics))
	for _, rc := range rcs {
		if rc.Err != nil {
			return fmt.Errorf("describing topic %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			n, err := strconv.ParseInt(*c.Value, 10, 32)
			if err != nil || n < 512 {
				return fmt.Errorf("topic %s: max.message.bytes %q is not a usable size", rc.Name, *c.Value)
			}
			loaded[rc.Name] = int32(n)
		}
	}
	var purge []string
	l.mu.Lock()
	for _, t := range topics {
		n, ok := loaded[t]
		if !ok {
			l.mu.Unlock()
			return fmt.Errorf("topic %s: no max.message.bytes in its configuration", t)
		}
		if l.guessed[t] && n != defaultMaxMessageBytes {
			purge = append(purge, t)
		}
		delete(l.guessed, t)
		l.bytes[t] = n
	}
	l.mu.Unlock()
	if len(purge) > 0 {
		client.PurgeTopicsFromProducing(purge...)
	}
	return nil
}

// LoadRetrying is Load retried with capped exponential backoff until it
// succeeds or ctx ends; it returns ctx's error then.
func (l *ProducerLimits) LoadRetrying(ctx context.Context, client *kgo.Client, logger *slog.Logger, topics ...string) error {
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := l.Load(attemptCtx, client, topics...)
		cancel()
		if err == nil {
			return nil
		}
		wait := retry.Next()
		logger.Warn("reading topic limits; retrying", "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}
