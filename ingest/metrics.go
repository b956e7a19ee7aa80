package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a webhook request, the values of the outcome label.
const (
	outcomeAccepted     = "accepted"     // 200 after Kafka's ack
	outcomeUnauthorized = "unauthorized" // 401: signature missing, malformed or wrong
	outcomeTooLarge     = "too_large"    // 413
	outcomeBadBody      = "bad_body"     // 400: the body could not be read
	outcomeUnavailable  = "unavailable"  // 503: Kafka did not ack in time or failed
	outcomeVerified     = "verified"     // GET handshake answered with the challenge
	outcomeForbidden    = "forbidden"    // GET handshake refused
)

type metrics struct {
	requests      *prometheus.CounterVec
	ackSeconds    prometheus.Histogram
	receivedBytes prometheus.Counter
	produceErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_ingest_requests_total",
			Help: "Webhook requests by outcome.",
		}, []string{"outcome"}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_ingest_ack_seconds",
			Help:    "Time from a POST's arrival to Kafka's acknowledgement of its raw record.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_ingest_received_bytes_total",
			Help: "Bytes of webhook bodies received.",
		}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_ingest_produce_errors_total",
			Help: "Raw records not acknowledged in time (reason timeout) or refused by Kafka (reason error).",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.requests, m.ackSeconds, m.receivedBytes, m.produceErrors)
	for _, o := range []string{outcomeAccepted, outcomeUnauthorized, outcomeTooLarge, outcomeBadBody, outcomeUnavailable, outcomeVerified, outcomeForbidden} {
		m.requests.WithLabelValues(o)
	}
	for _, r := range []string{"timeout", "error"} {
		m.produceErrors.WithLabelValues(r)
	}
	return m
}
