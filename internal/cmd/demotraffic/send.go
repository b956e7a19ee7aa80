package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/reftrail/reftrail/internal/meta"
	"github.com/reftrail/reftrail/internal/traffic"
)

// Retry timing. Meta retries a failed delivery immediately at first, then
// less often; a short doubling backoff is close enough for a demo and keeps
// a 503 from ingest (Kafka slow or down) from becoming a lost webhook.
// ingest's Retry-After is for humans and other senders; Meta ignores it, and
// so does demotraffic.
const (
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	// attemptTimeout bounds one POST. Meta gives up after 5 s (20 s on older
	// pages); a little more keeps a slow ingest visible as slow, not failed.
	attemptTimeout = 10 * time.Second
)

// sender delivers webhooks over HTTP.
type sender struct {
	client      *http.Client
	url         string
	secret      string
	rate        float64 // first attempts per second; 0 for no limit
	concurrency int
	retries     int
	backoff     time.Duration // wait before the first retry, doubled after each
}

// report is what a send did.
type report struct {
	sent     int // webhooks attempted at least once
	accepted int // answered 2xx
	retried  int // attempts after the first
	failed   int // given up on: a final answer that is not 2xx
	firstErr error
	statuses map[int]int // answers by HTTP status; 0 counts transport errors
	elapsed  time.Duration
}

// answers renders statuses as "200=439 503=3", ordered by status.
func (r *report) answers() string {
	if len(r.statuses) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, status := range slices.Sorted(maps.Keys(r.statuses)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if status == 0 {
			b.WriteString("error")
		} else {
			b.WriteString(strconv.Itoa(status))
		}
		fmt.Fprintf(&b, "=%d", r.statuses[status])
	}
	return b.String()
}

// send delivers every webhook from s.concurrency workers, paced by s.rate.
// It stops starting webhooks when ctx ends; those in flight finish or fail.
func (s *sender) send(ctx context.Context, webhooks []traffic.Webhook) report {
	var (
		mu  sync.Mutex
		rep = report{statuses: map[int]int{}}
		wg  sync.WaitGroup
	)
	began := time.Now()
	jobs := make(chan []byte)
	for range s.concurrency {
		wg.Go(func() {
			for body := range jobs {
				s.deliver(ctx, body, &mu, &rep)
			}
		})
	}

	var tick <-chan time.Time
	if s.rate > 0 {
		ticker := time.NewTicker(time.Duration(float64(time.Second) / s.rate))
		defer ticker.Stop()
		tick = ticker.C
	}
feed:
	for i, w := range webhooks {
		// The first webhook goes at once; each later one waits its tick.
		if tick != nil && i > 0 {
			select {
			case <-tick:
			case <-ctx.Done():
				break feed
			}
		}
		select {
		case jobs <- w.Body:
			mu.Lock()
			rep.sent++
			mu.Unlock()
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	rep.elapsed = time.Since(began)
	return rep
}

// deliver POSTs one body until it is accepted, a final answer comes, the
// retries run out or ctx ends, and records the outcome in rep.
func (s *sender) deliver(ctx context.Context, body []byte, mu *sync.Mutex, rep *report) {
	signature := meta.Sign(s.secret, body)
	wait := s.backoff
	for attempt := 0; ; attempt++ {
		status, err := s.post(ctx, body, signature)
		mu.Lock()
		rep.statuses[status]++
		mu.Unlock()
		if err == nil {
			mu.Lock()
			rep.accepted++
			mu.Unlock()
			return
		}
		if !retryable(status) || attempt == s.retries || ctx.Err() != nil {
			mu.Lock()
			rep.failed++
			if rep.firstErr == nil {
				rep.firstErr = fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			mu.Unlock()
			return
		}
		mu.Lock()
		rep.retried++
		mu.Unlock()
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(2*wait, maxBackoff)
	}
}

// retryable reports whether Meta would deliver again after this answer: a
// server error, 429, or no answer at all (status 0). Other 4xx answers (a
// bad signature, a body too large) will not change on a retry.
func retryable(status int) bool {
	return status == 0 || status == http.StatusTooManyRequests || status >= 500
}

// post sends one attempt and returns the HTTP status (0 when none came) and
// an error unless the answer was 2xx.
func (s *sender) post(ctx context.Context, body []byte, signature string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(meta.SignatureHeader, signature)
	// Meta's webhook deliveries come with this user agent.
	req.Header.Set("User-Agent", "facebookexternalua")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("posting webhook: %w", err)
	}
	// Draining lets the connection be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("posting webhook: answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
