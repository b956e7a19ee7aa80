package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/obs"
)

func TestDeadlinesTimeOutOnlyWaitersPastTheirDeadline(t *testing.T) {
	d := newDeadlines(20 * time.Millisecond) // a 1ms tick
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.run(ctx)

	now := time.Now()
	due := d.add(now.Add(30 * time.Millisecond))
	later := d.add(now.Add(time.Hour))
	answered := d.add(now.Add(30 * time.Millisecond))
	gone := d.add(now)
	d.remove(gone) // answered by Kafka before its deadline
	answered.answer(nil)

	select {
	case err := <-due.answers:
		if !errors.Is(err, errProduceTimeout) {
			t.Errorf("past its deadline, the waiter got %v, want errProduceTimeout", err)
		}
		if early := time.Since(now); early < 30*time.Millisecond {
			t.Errorf("timed out after %v, before its deadline of 30ms", early)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiter past its deadline was not timed out")
	}
	if err := <-answered.answers; err != nil {
		t.Errorf("the acknowledged waiter's first answer = %v, want nil", err)
	}
	select {
	case err := <-later.answers:
		t.Errorf("a waiter an hour from its deadline got %v", err)
	case err := <-gone.answers:
		t.Errorf("a removed waiter got %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.head != later || later.next != nil || later.prev != nil {
		t.Errorf("the list holds more than the waiter still waiting")
	}
}

// TestProduceWaitsForRoomUntilTheDeadline fills the client's buffer with a
// record Kafka never acknowledges: the next produce must wait for room until
// its deadline, then time out, rather than fail at once.
func TestProduceWaitsForRoomUntilTheDeadline(t *testing.T) {
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.MaxBufferedRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	reg := obs.NewRegistry()
	h := &webhookHandler{client: client, deadlines: newDeadlines(time.Second), metrics: newMetrics(reg)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.deadlines.run(ctx)

	first := make(chan error, 1)
	go func() {
		first <- h.produce(&kgo.Record{Topic: "raw", Value: []byte("first")}, time.Now().Add(time.Minute))
	}()
	for client.BufferedProduceRecords() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	err = h.produce(&kgo.Record{Topic: "raw", Value: []byte("second")}, start.Add(300*time.Millisecond))
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the deadline of 300ms", waited)
	}
	if !errors.Is(err, errProduceTimeout) {
		t.Errorf("produce with the buffer full = %v, want errProduceTimeout", err)
	}
	if got := counterValue(t, reg, "reftrail_ingest_produce_errors_total", "timeout"); got != 1 {
		t.Errorf("produce errors by timeout = %v, want 1", got)
	}
	client.Close()
	if err := <-first; err == nil {
		t.Error("the record Kafka never took was acknowledged")
	}
}

// counterValue is the value of the counter name whose one label is label.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if f.GetName() == name && len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
