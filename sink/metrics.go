package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Tables written, the values of the table label.
const (
	tableEvents      = "events"
	tableDeadLetters = "dead_letters"
)

type metrics struct {
	rowsWritten    *prometheus.CounterVec
	batchesWritten *prometheus.CounterVec
	insertSeconds  *prometheus.HistogramVec
	insertRetries  prometheus.Counter
	batchRows      prometheus.Histogram
	lag            *prometheus.GaugeVec
	deadLetters    *prometheus.CounterVec
	commitFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		rowsWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_sink_rows_written_total",
			Help: "Rows ClickHouse accepted, by table. Redelivered rows count again; ClickHouse collapses them.",
		}, []string{"table"}),
		batchesWritten: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_sink_batches_written_total",
			Help: "INSERTs ClickHouse accepted, by table.",
		}, []string{"table"}),
		insertSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "reftrail_sink_insert_seconds",
			Help:    "Time of one accepted INSERT, by table.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2.5, 12),
		}, []string{"table"}),
		insertRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_sink_insert_retries_total",
			Help: "Batches that failed (ClickHouse down or refusing, schema registry unreachable) and will be tried again.",
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "reftrail_sink_batch_rows",
			Help:    "Rows (events and dead letters) per written batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 11),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "reftrail_sink_consumer_lag_records",
			Help: "Records behind the partition's high watermark after the last fetch (transaction markers included).",
		}, []string{"topic", "partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_sink_dead_letters_total",
			Help: "Dead letters written to ClickHouse, by reason: the DLQ topic's, undecodable_event for event records sink could not decode, and rejected_by_clickhouse for event rows ClickHouse refused.",
		}, []string{"reason"}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "reftrail_sink_commit_failures_total",
			Help: "Offset commits that failed after their rows were written; those records are delivered again (harmless duplicates).",
		}),
	}
	reg.MustRegister(m.rowsWritten, m.batchesWritten, m.insertSeconds, m.insertRetries, m.batchRows, m.lag, m.deadLetters, m.commitFailures)
	return m
}
