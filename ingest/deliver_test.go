package main

import (
	"context"
	"errors"
	"testing"
	"time"
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
