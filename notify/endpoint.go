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

	// sem holds a slot per attempt in flight to the endpoint.
	sem chan struct{}

	mu sync.Mutex
	// last is the outcome of the latest attempt; the endpoint is down while
	// it is a failure of the endpoint's own (endpointDown). It is slow since
	// the events path's budget ran out on it, or while its latest attempt
	// took longer than that budget.
	last outcome
	slow bool
}

func newEndpoint(index int, url, id string, m *metrics) *endpoint {
	label := strconv.Itoa(index)
	return &endpoint{index: index, label: label, id: id, url: url, metrics: m.forEndpoint(label), sem: make(chan struct{}, endpointConcurrency)}
}

// state reports whether the endpoint is down (its latest attempt failed in
// a way of its own) or slow, and the outcome its deliveries take while they
// are not tried.
func (e *endpoint) state() (down, slow bool, last outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	down = !e.last.ok && e.last.endpointDown
	switch {
	case down:
		return true, e.slow, e.last
	case e.slow:
		return false, true, slowOutcome()
	}
	return false, false, e.last
}

// record notes an attempt's outcome and whether it took longer than the
// batch budget.
func (e *endpoint) record(o outcome, slow bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.last, e.slow = o, slow
}

// markSlow notes that the events path's budget ran out on the endpoint.
func (e *endpoint) markSlow() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.slow = true
}

// slowOutcome is what deliveries deferred from a slow endpoint carry into
// their retry record.
func slowOutcome() outcome {
	return outcome{class: "slow", reason: "endpoint_slow", endpointDown: true}
}

// endpointMetrics are one endpoint's series.
type endpointMetrics struct {
	delivered prometheus.Counter
	failed    *prometheus.CounterVec // by class, curried with the endpoint
	parked    prometheus.Counter
	latency   prometheus.Observer
	oldest    prometheus.Gauge
}
