package main

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// endpointConcurrency bounds the attempts in flight to one endpoint.
const endpointConcurrency = 16

// endpoint is one subscriber URL and what notify knows of its health.
type endpoint struct {
	index int
	// label names it in metrics and logs: its position in NOTIFY_URLS.
	label string
	// id names it in retry and parked records; see endpointID.
	id      string
	url     string
	metrics endpointMetrics

	mu sync.Mutex
	// last is the outcome of the latest attempt; the endpoint is down while
	// it is a failure of the endpoint's own (endpointDown).
	last outcome
}

func newEndpoint(index int, url, id string, m *metrics) *endpoint {
	label := strconv.Itoa(index)
	return &endpoint{index: index, label: label, id: id, url: url, metrics: m.forEndpoint(label)}
}

// down reports whether the latest attempt found the endpoint down, and that
// attempt's outcome.
func (e *endpoint) down() (bool, outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.last.ok && e.last.endpointDown, e.last
}

// record notes an attempt's outcome.
func (e *endpoint) record(o outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last = o
}

// endpointMetrics are one endpoint's series.
type endpointMetrics struct {
	delivered prometheus.Counter
	failed    *prometheus.CounterVec // by class, curried with the endpoint
	parked    prometheus.Counter
	latency   prometheus.Observer
	oldest    prometheus.Gauge
}
