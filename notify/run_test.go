package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestRunDeliversEveryReferralOfAPlan sends the events of a demo traffic
// plan through notify to two endpoints, one over HTTPS with its CA given in
// NOTIFY_CA_FILE, and checks that each got every referral, signed.
func TestRunDeliversEveryReferralOfAPlan(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 15, 300)
	plain := newReceiver(t, false, nil)
	secure := newReceiver(t, true, nil)
	env := baseEnv(brokers, testenv.FreeAddr(t), plain.srv.URL+"/hook", secure.srv.URL+"/hook")
	env["NOTIFY_CA_FILE"] = writeCA(t, secure.srv)
	produceEvents(t, brokers, events)
	url := startNotify(t, env)

	waitDelivered(t, "http endpoint", plain, ids, 60*time.Second)
	waitDelivered(t, "https endpoint", secure, ids, 60*time.Second)
	byID := map[string]int{}
	for i := range events {
		byID[events[i].EventID] = i
	}
	for _, id := range ids[:20] {
		e := events[byID[id]]
		a := plain.attempts(id)[0].body
		if a.Data.AccountID != e.AccountID || a.Data.ParticipantID != e.ParticipantID || a.Data.Ref != e.Referral.Ref ||
			a.Data.Kind != string(e.Kind) || a.Data.Platform != string(e.Platform) || a.Data.Thread != string(e.Thread) ||
			a.Data.EventTime != time.UnixMilli(e.EventTime).UTC().Format(rfc3339Millis) || a.Timestamp != a.Data.EventTime {
			t.Errorf("body of %s = %+v, want the event's fields %+v", id, a, e)
		}
	}
	m := testenv.Scrape(t, url)
	for _, ep := range []string{"0", "1"} {
		if got := testenv.Metric(m, "reftrail_notify_delivered_total", `endpoint="`+ep+`"`); got < float64(len(ids)) {
			t.Errorf("delivered_total{endpoint=%s} = %v, want at least %d", ep, got, len(ids))
		}
		if got := testenv.Metric(m, "reftrail_notify_delivery_latency_seconds_count", `endpoint="`+ep+`"`); got < float64(len(ids)) {
			t.Errorf("delivery_latency_seconds_count{endpoint=%s} = %v, want at least %d", ep, got, len(ids))
		}
	}
	if got := testenv.Metric(m, "reftrail_notify_events_total", `carries="referral"`); got != float64(len(ids)) {
		t.Errorf("events_total{carries=referral} = %v, want %d", got, len(ids))
	}
}

// TestRunRetriesUntilTheEndpointRecovers fails an endpoint's first requests
// with 500 and checks that every referral is delivered in the end, under the
// webhook-id its failed attempts carried.
func TestRunRetriesUntilTheEndpointRecovers(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 16, 100)
	const failures = 40
	flaky := newReceiver(t, false, func(n int, _ string) (int, http.Header) {
		switch {
		case n > failures:
			return http.StatusOK, nil
		}
		return http.StatusInternalServerError, nil
	})
	env := baseEnv(brokers, testenv.FreeAddr(t), flaky.srv.URL)
	produceEvents(t, brokers, events)
	url := startNotify(t, env)
	waitDelivered(t, "flaky endpoint", flaky, ids, 60*time.Second)

	retried := 0
	for _, id := range ids {
		as := flaky.attempts(id)
		if as[0].status < 300 {
			continue
		}
		// Attempts are recorded under the webhook-id they carried: a
		// delivery after a failure is the same id.
		retried++
	}
	if retried == 0 {
		t.Fatalf("no referral saw a failed first attempt; the test proves nothing")
	}
	m := testenv.Scrape(t, url)
	if got := testenv.Metric(m, "reftrail_notify_failed_attempts_total", `class="5xx"`); got < failures {
		t.Errorf("failed_attempts_total{class=5xx} = %v, want at least %d", got, failures)
	}
	if got := testenv.Metric(m, "reftrail_notify_parked_total"); got != 0 {
		t.Errorf("parked_total = %v, want 0", got)
	}
}

// TestRunHonoursRetryAfter answers every first attempt 503 with Retry-After:
// 2 and checks that no second attempt came sooner.
func TestRunHonoursRetryAfter(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 17, 10)
	var mu sync.Mutex
	seen := map[string]bool{}
	ep := newReceiver(t, false, func(_ int, id string) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if seen[id] {
			return http.StatusNoContent, nil
		}
		seen[id] = true
		return http.StatusServiceUnavailable, http.Header{"Retry-After": {"2"}}
	})
	produceEvents(t, brokers, events)
	startNotify(t, baseEnv(brokers, testenv.FreeAddr(t), ep.srv.URL))
	waitDelivered(t, "endpoint asking to wait", ep, ids, 60*time.Second)
	for _, id := range ids {
		as := ep.attempts(id)
		if len(as) < 2 {
			t.Fatalf("%s: %d attempts, want a 503 then a success", id, len(as))
		}
		// Retry-After is in whole seconds; the timestamps here are the
		// receiver's, so allow the rounding of the due time to the ms.
		if gap := as[1].at.Sub(as[0].at); gap < 2*time.Second-10*time.Millisecond {
			t.Errorf("%s: retried %v after a Retry-After of 2s", id, gap)
		}
	}
}

// TestRunParksDeliveriesOfAnEndpointDownForGood keeps one endpoint failing
// and checks that its deliveries are parked in reftrail.notify.dlq after
// NOTIFY_MAX_AGE, with their last status, while the other endpoint gets
// everything.
func TestRunParksDeliveriesOfAnEndpointDownForGood(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 18, 100)
	healthy := newReceiver(t, false, nil)
	down := newReceiver(t, false, func(int, string) (int, http.Header) { return http.StatusServiceUnavailable, nil })
	env := baseEnv(brokers, testenv.FreeAddr(t), healthy.srv.URL, down.srv.URL)
	env["NOTIFY_MAX_AGE"] = "1500ms"
	produceEvents(t, brokers, events)
	url := startNotify(t, env)
	waitDelivered(t, "healthy endpoint", healthy, ids, 60*time.Second)

	parked := readTopic(t, brokers, dlqTopic, len(ids), 60*time.Second)
	got := map[string]bool{}
	for _, r := range parked {
		got[header(r, headerID)] = true
		if header(r, headerDLQReason) != parkedMaxAge || header(r, headerLastStatus) != "503" || header(r, headerLastReason) != "http_503" {
			t.Errorf("parked record headers %v, want reason %s, last status 503, last reason http_503", r.Headers, parkedMaxAge)
		}
		if tries, _ := strconv.Atoi(header(r, headerTries)); tries < 2 {
			t.Errorf("parked after %d tries, want several", tries)
		}
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("referral %s was not parked for the endpoint down for good", id)
		}
	}
	if n := len(down.delivered()); n != 0 {
		t.Errorf("the down endpoint delivered %d, want 0", n)
	}
	m := testenv.Scrape(t, url)
	if got := testenv.Metric(m, "reftrail_notify_parked_total", `endpoint="1"`); got < float64(len(ids)) {
		t.Errorf("parked_total{endpoint=1} = %v, want at least %d", got, len(ids))
	}
	if got := testenv.Metric(m, "reftrail_notify_parked_total", `endpoint="0"`); got != 0 {
		t.Errorf("parked_total{endpoint=0} = %v, want 0", got)
	}
}

// TestRunSlowEndpointDoesNotHoldUpTheOthers sends referrals in bursts to a
// healthy endpoint and to one that hangs, or that answers 2xx only after
// 1.5s: the healthy one gets each burst in turn; the hanging one is tried far
// less often than once per referral, the slow one gets every referral in the
// end.
func TestRunSlowEndpointDoesNotHoldUpTheOthers(t *testing.T) {
	for _, c := range []struct {
		name    string
		hang    bool
		timeout string
	}{
		{"hanging", true, "1s"},
		{"slow but answering", false, "3s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			brokers := newBrokers(t)
			events, ids := planEvents(t, 19, 200)
			release := make(chan struct{})
			healthy := newReceiver(t, false, nil)
			slow := newReceiver(t, false, func(int, string) (int, http.Header) {
				if c.hang {
					<-release
					return http.StatusServiceUnavailable, nil
				}
				time.Sleep(1500 * time.Millisecond)
				return http.StatusNoContent, nil
			})
			t.Cleanup(func() { close(release) }) // runs before the servers close
			env := baseEnv(brokers, testenv.FreeAddr(t), slow.srv.URL, healthy.srv.URL)
			env["NOTIFY_TIMEOUT"] = c.timeout
			startNotify(t, env)

			// Ten bursts, each waited for: a notify that waited on the
			// slow endpoint for each event would need seconds per event.
			const bursts = 10
			for b := range bursts {
				lo, hi := b*len(events)/bursts, (b+1)*len(events)/bursts
				produceEvents(t, brokers, events[lo:hi])
				var want []string
				for _, e := range events[lo:hi] {
					if e.Referral != nil {
						want = append(want, e.EventID)
					}
				}
				waitDelivered(t, "healthy endpoint", healthy, want, 30*time.Second)
			}
			if c.hang {
				if got := slow.count(); got >= len(ids) {
					t.Errorf("the hanging endpoint was tried %d times for %d referrals, want far fewer", got, len(ids))
				}
				return
			}
			waitDelivered(t, "slow endpoint", slow, ids, 120*time.Second)
		})
	}
}

// readTopic reads topic from the start until it has want records and then
// quiet for a moment, failing after timeout.
func readTopic(t testing.TB, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(timeout)
	for {
		wait := time.Until(deadline)
		if len(recs) >= want {
			wait = 500 * time.Millisecond
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fetches := cl.PollFetches(ctx)
		cancel()
		n := 0
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r); n++ })
		if n == 0 && ctx.Err() != nil {
			if len(recs) < want {
				t.Fatalf("read %d records from %s, want %d", len(recs), topic, want)
			}
			return recs
		}
	}
}

// TestRunRebalanceLosesNothing starts a second notify in the same groups
// while the first is delivering, and stops the first while some deliveries
// wait in the retry topics: partitions move twice, and every referral is
// delivered.
func TestRunRebalanceLosesNothing(t *testing.T) {
	brokers := newBrokers(t)
	events, ids := planEvents(t, 21, 1500)
	ep := newReceiver(t, false, func(n int, _ string) (int, http.Header) {
		time.Sleep(time.Millisecond)
		if n%10 == 0 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	})
	produceEvents(t, brokers, events)

	ctx, stopFirst := context.WithCancel(context.Background())
	env := baseEnv(brokers, testenv.FreeAddr(t), ep.srv.URL)
	first := make(chan error, 1)
	go func() { first <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, io.Discard) }()
	t.Cleanup(stopFirst)
	testenv.WaitReadyz(t, "http://"+env["METRICS_ADDR"], http.StatusOK, 30*time.Second)
	waitCount(t, ep, len(ids)/4, 60*time.Second)
	startNotify(t, baseEnv(brokers, testenv.FreeAddr(t), ep.srv.URL))
	waitCount(t, ep, len(ids)/2, 60*time.Second)
	stopFirst()
	if err := <-first; err != nil {
		t.Errorf("the first notify's run returned %v, want nil", err)
	}
	waitDelivered(t, "endpoint", ep, ids, 90*time.Second)
}
