package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/eventcodec"
	"github.com/reftrail/reftrail/internal/kafka"
)

// Memory bounds: a poll takes at most maxPollRecords records, and the client
// buffers at most maxConcurrentFetches fetches of fetchMaxBytes. Deliveries
// waiting for a later attempt live in the retry topics, not here, so memory
// does not grow with an endpoint's outage.
const (
	maxPollRecords       = 500
	fetchMaxBytes        = 4 << 20
	maxConcurrentFetches = 2
	retryFetchMaxWait    = 200 * time.Millisecond
)

// notifier turns referral events into webhooks: one loop reads EVENTS_TOPIC
// and makes first attempts, another reads the retry topics and makes the
// later ones.
type notifier struct {
	cfg       Config
	logger    *slog.Logger
	reg       prometheus.Registerer
	metrics   *metrics
	decoder   *eventcodec.Decoder
	http      *http.Client
	endpoints []*endpoint
	byID      map[string]*endpoint
	levels    []time.Duration

	events, retries atomic.Pointer[kgo.Client]
}

func newNotifier(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*notifier, error) {
	registry, err := eventcodec.NewRegistryClient(cfg.Registry)
	if err != nil {
		return nil, err
	}
	decoder, err := eventcodec.NewDecoder(registry)
	if err != nil {
		return nil, fmt.Errorf("creating event decoder: %w", err)
	}
	n := &notifier{
		cfg:     cfg,
		logger:  logger,
		reg:     reg,
		metrics: newMetrics(reg),
		decoder: decoder,
		http:    newHTTPClient(cfg.AllowPrivate, cfg.Timeout, cfg.RootCAs),
		byID:    map[string]*endpoint{},
		levels:  cfg.levels(),
	}
	for i, u := range cfg.Endpoints {
		ep := newEndpoint(i, u.String(), endpointID(u), n.metrics)
		n.endpoints = append(n.endpoints, ep)
		n.byID[ep.id] = ep
	}
	return n, nil
}

// ready reports whether both loops are consuming and Kafka answers.
func (n *notifier) ready(ctx context.Context) error {
	events, retries := n.events.Load(), n.retries.Load()
	if events == nil || retries == nil {
		return errors.New("not consuming yet")
	}
	if err := events.Ping(ctx); err != nil {
		return fmt.Errorf("pinging kafka: %w", err)
	}
	return nil
}

// run creates notify's topics, then runs both loops until ctx ends.
func (n *notifier) run(ctx context.Context) error {
	common := []kgo.Opt{
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.MaxConcurrentFetches(maxConcurrentFetches),
		// Bound how long a produce may hang while brokers are down
		// (franz-go issue #1217): the loop then retries it itself.
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}
	events, err := kafka.NewClient(n.cfg.Kafka, "notify", n.logger, n.reg, append(common,
		kgo.ConsumerGroup(groupID),
		kgo.ConsumeTopics(n.cfg.EventsTopic),
		// enrich writes in transactions: aborted events are not referrals.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return err
	}
	defer events.CloseAllowingRebalance()
	topics := []kafka.Topic{{Name: n.cfg.EventsTopic}, {Name: dlqTopic}}
	var retryTopics []string
	for _, l := range n.levels {
		retryTopics = append(retryTopics, retryTopic(l))
		topics = append(topics, kafka.Topic{Name: retryTopic(l)})
	}
	if err := kafka.EnsureTopicsRetrying(ctx, events, n.cfg.Kafka, n.logger, topics...); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	r := newRetrier(n)
	// The retry loop's client has metrics of its own name, since kprom
	// registers its collectors once per registry.
	retries, err := kafka.NewClient(n.cfg.Kafka, "notify_retry", n.logger, n.reg, append(common,
		kgo.ConsumerGroup(retryGroupID),
		kgo.ConsumeTopics(retryTopics...),
		// A fetch under way keeps a just-resumed partition waiting for up to
		// the fetch's max wait (5s by default), which would delay every
		// record due while its partition was paused.
		kgo.FetchMaxWait(retryFetchMaxWait),
		kgo.OnPartitionsRevoked(r.dropPartitions),
		kgo.OnPartitionsLost(r.dropPartitions),
	)...)
	if err != nil {
		return err
	}
	defer retries.CloseAllowingRebalance()
	n.events.Store(events)
	n.retries.Store(retries)

	errc := make(chan error, 1)
	go func() { errc <- r.run(ctx, retries) }()
	return errors.Join(n.consume(ctx, events), <-errc)
}
