package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	consumed       prometheus.Counter
	produced       *prometheus.CounterVec
	deadLetters    *prometheus.CounterVec
	skipped        *prometheus.CounterVec
	invalidRefs    prometheus.Counter
	aborted        prometheus.Counter
	batchSeconds   prometheus.Histogram
	latencySeconds prometheus.Histogram
	lag            *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_enrich_records_consumed_total",
			Help: "Raw records processed in committed transactions.",
		}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_enrich_events_produced_total",
			Help: "Events produced in committed transactions, by kind and platform.",
		}, []string{"kind", "platform"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_enrich_dlq_records_total",
			Help: "Raw records dead-lettered in committed transactions, by reason.",
		}, []string{"reason"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_enrich_skipped_items_total",
			Help: "Webhook items reftrail does not model (reads, deliveries, reactions, ...), by type.",
		}, []string{"type"}),
		invalidRefs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_enrich_invalid_refs_total",
			Help: "Events whose ref breaks Meta's rules (too long or bad characters); kept as sent.",
		}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_enrich_transactions_aborted_total",
			Help: "Transactions aborted (produce failure or rebalance); their records are processed again.",
		}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_enrich_transaction_seconds",
			Help:    "Time to process a polled batch and commit its transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}),
		latencySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_enrich_processing_latency_seconds",
			Help:    "Time from ingest accepting a webhook to its events being committed.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reftrail_enrich_consumer_lag_records",
			Help: "Raw records behind the partition's high watermark after the last fetch.",
		}, []string{"partition"}),
	}
	reg.MustRegister(m.consumed, m.produced, m.deadLetters, m.skipped, m.invalidRefs, m.aborted, m.batchSeconds, m.latencySeconds, m.lag)
	return m
}
