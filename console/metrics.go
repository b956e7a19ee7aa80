package main

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the console's own series. Routes are labelled by their pattern
// (bounded), never by ref.
type metrics struct {
	requests     *prometheus.CounterVec
	linksCreated *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_console_requests_total",
			Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		linksCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "reftrail_console_links_created_total",
			Help: "Links added to the catalog, by platform.",
		}, []string{"platform"}),
	}
	reg.MustRegister(m.requests, m.linksCreated)
	return m
}
