package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/reftrail/reftrail/internal/spool"
)

// Outcomes of a webhook request, the values of the outcome label.
const (
	outcomeAccepted     = "accepted"     // 200 after Kafka's ack
	outcomeSpooled      = "spooled"      // 200 after the spool's fsync
	outcomeUnauthorized = "unauthorized" // 401: signature missing, malformed or wrong
	outcomeTooLarge     = "too_large"    // 413
	outcomeBadBody      = "bad_body"     // 400: the body could not be read
	outcomeSlowBody     = "slow_body"    // 408: the body took longer than bodyReadTimeout
	outcomeBusy         = "busy"         // 503: no room in the body budget in time
	outcomeUnavailable  = "unavailable"  // 503: neither Kafka nor the spool took the record in time
	outcomeSpoolFull    = "spool_full"   // 503: Kafka did not take it and the spool is full
	outcomeVerified     = "verified"     // GET handshake answered with the challenge
	outcomeForbidden    = "forbidden"    // GET handshake refused
)

type metrics struct {
	requests *prometheus.CounterVec
	// outcomes holds requests' counter of each outcome, looked up once.
	outcomes        map[string]prometheus.Counter
	ackSeconds      prometheus.Histogram
	spoolAckSeconds prometheus.Histogram
	receivedBytes   prometheus.Counter
	produceErrors   *prometheus.CounterVec
	forwarded       prometheus.Counter
	forwardErrors   prometheus.Counter
}

var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_ingest_requests_total",
			Help: "Webhook requests by outcome; outcome=\"spooled\" counts those answered from the spool.",
		}, []string{"outcome"}),
		ackSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_ingest_ack_seconds",
			Help:    "Time from a POST's arrival to Kafka's acknowledgement of its raw record.",
			Buckets: latencyBuckets,
		}),
		spoolAckSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_ingest_spool_ack_seconds",
			Help:    "Time from a POST's arrival to the fsync of its raw record in the spool.",
			Buckets: latencyBuckets,
		}),
		receivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_ingest_received_bytes_total",
			Help: "Bytes of webhook bodies received.",
		}),
		produceErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_ingest_produce_errors_total",
			Help: "Raw records not acknowledged in time (reason timeout) or refused by Kafka (reason error).",
		}, []string{"reason"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_ingest_spool_forwarded_total",
			Help: "Spooled records Kafka acknowledged.",
		}),
		forwardErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_ingest_spool_forward_errors_total",
			Help: "Forwarding attempts of spooled records that failed and are retried.",
		}),
	}
	reg.MustRegister(m.requests, m.ackSeconds, m.spoolAckSeconds, m.receivedBytes, m.produceErrors, m.forwarded, m.forwardErrors)
	m.outcomes = make(map[string]prometheus.Counter)
	for _, o := range []string{outcomeAccepted, outcomeSpooled, outcomeUnauthorized, outcomeTooLarge, outcomeBadBody,
		outcomeSlowBody, outcomeBusy, outcomeUnavailable, outcomeSpoolFull, outcomeVerified, outcomeForbidden} {
		m.outcomes[o] = m.requests.WithLabelValues(o)
	}
	for _, r := range []string{"timeout", "error"} {
		m.produceErrors.WithLabelValues(r)
	}
	return m
}

// registerSpoolGauges exports the spool's size and the age of its oldest
// record, read when Prometheus scrapes.
func registerSpoolGauges(reg prometheus.Registerer, sp *spool.Spool) {
	gauge := func(name, help string, value func(spool.Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return value(sp.Stats()) })
	}
	reg.MustRegister(
		gauge("reftrail_ingest_spool_bytes", "Bytes of the spool's files on disk.",
			func(st spool.Stats) float64 { return float64(st.Bytes) }),
		gauge("reftrail_ingest_spool_records", "Records in the spool not yet acknowledged by Kafka.",
			func(st spool.Stats) float64 { return float64(st.Records) }),
		gauge("reftrail_ingest_spool_oldest_age_seconds", "Age of the oldest record in the spool; 0 when it is empty.",
			func(st spool.Stats) float64 {
				if st.Oldest.IsZero() {
					return 0
				}
				return time.Since(st.Oldest).Seconds()
			}),
	)
}
