package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/backoff"
	"github.com/reftrail/reftrail/internal/kafka"
)

// topicCheck creates the raw topic when it is missing and checks that it
// takes the largest record ingest may write. It runs in the background so
// ingest listens at once, and reports through ok and refused.
type topicCheck struct {
	ok atomic.Bool
	// refused holds why the topic cannot take ingest's records; ingest is
	// not ready until an operator fixes it and restarts.
	refused atomic.Pointer[error]
	// limits sizes the producer's batches from the topic's
	// max.message.bytes: records that each fit could otherwise be batched
	// past it, and the broker would refuse the whole batch.
	limits *kafka.ProducerLimits
}

func (c *topicCheck) ready() bool { return c.ok.Load() }

func (c *topicCheck) err() error {
	if p := c.refused.Load(); p != nil {
		return *p
	}
	if !c.ok.Load() {
		return errors.New("raw topic not checked yet")
	}
	return nil
}

// run ensures the topic, then reads its max.message.bytes, retrying while
// Kafka cannot be reached, until ctx ends.
func (c *topicCheck) run(ctx context.Context, client *kgo.Client, cfg Config, logger *slog.Logger) {
	if kafka.EnsureTopicsRetrying(ctx, client, cfg.Kafka, logger, kafka.RawTopic(cfg.Kafka, cfg.RawTopic)) != nil {
		return
	}
	need := cfg.MaxBodyBytes + recordOverheadBytes
	retry := backoff.Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	for {
		limit, err := maxMessageBytes(ctx, client, cfg.RawTopic)
		switch {
		case err == nil && limit >= need:
			if err = c.limits.Load(ctx, client, cfg.RawTopic); err == nil {
				c.ok.Store(true)
				return
			}
		case err == nil:
			err := fmt.Errorf("raw topic %s takes records up to max.message.bytes=%d, under MAX_BODY_BYTES plus %d bytes of headers (%d): raise the topic's max.message.bytes or lower MAX_BODY_BYTES, then restart ingest",
				cfg.RawTopic, limit, recordOverheadBytes, need)
			c.refused.Store(&err)
			logger.Error("not ready", "err", err)
			return
		}
		wait := retry.Next()
		logger.Warn("checking the raw topic; retrying", "topic", cfg.RawTopic, "err", err, "backoff", wait)
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

// maxMessageBytes reads topic's effective max.message.bytes.
func maxMessageBytes(ctx context.Context, client *kgo.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	configs, err := kadm.NewClient(client).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, err)
	}
	rc, err := configs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return 0, fmt.Errorf("describing topic %s: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "max.message.bytes" {
			return strconv.ParseInt(c.MaybeValue(), 10, 64)
		}
	}
	return 0, fmt.Errorf("topic %s reports no max.message.bytes", topic)
}
