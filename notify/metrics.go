package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	delivered   *prometheus.CounterVec
	failed      *prometheus.CounterVec
	parked      *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	oldest      *prometheus.GaugeVec
	events      *prometheus.CounterVec
	undecodable prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_notify_delivered_total",
			Help: "Deliveries answered 2xx, by endpoint (its position in NOTIFY_URLS). A duplicate counts again.",
		}, []string{"endpoint"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_notify_failed_attempts_total",
			Help: "Attempts that failed, by endpoint and class: 3xx, 4xx, 5xx, timeout, network, refused (address not allowed).",
		}, []string{"endpoint", "class"}),
		parked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_notify_parked_total",
			Help: "Deliveries given up on after NOTIFY_MAX_AGE and written to reftrail.notify.dlq, by endpoint.",
		}, []string{"endpoint"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reftrail_notify_delivery_latency_seconds",
			Help:    "From the event's event_time to its delivery, by endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.05, 3, 14),
		}, []string{"endpoint"}),
		oldest: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reftrail_notify_oldest_pending_seconds",
			Help: "Age (from event_time) of the oldest delivery waiting in the retry topics that notify has read, by endpoint; 0 when none waits.",
		}, []string{"endpoint"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_notify_events_total",
			Help: "Events read from EVENTS_TOPIC, by whether they carry a referral (referral, other).",
		}, []string{"carries"}),
		undecodable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_notify_undecodable_events_total",
			Help: "Event records that could not be decoded and were skipped (sink dead-letters them).",
		}),
	}
	reg.MustRegister(m.delivered, m.failed, m.parked, m.latency, m.oldest, m.events, m.undecodable)
	return m
}

func (m *metrics) forEndpoint(label string) endpointMetrics {
	return endpointMetrics{
		delivered: m.delivered.WithLabelValues(label),
		failed:    m.failed.MustCurryWith(prometheus.Labels{"endpoint": label}),
		parked:    m.parked.WithLabelValues(label),
		latency:   m.latency.WithLabelValues(label),
		oldest:    m.oldest.WithLabelValues(label),
	}
}
