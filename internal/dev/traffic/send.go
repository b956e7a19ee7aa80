package traffic

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
)

// Retry timing. Meta retries a failed delivery immediately at first, then
// less often; a short doubling backoff is close enough for a demo and keeps
// a 503 from ingest (Kafka slow or down) from becoming a lost webhook.
// ingest's Retry-After is for humans and other senders; Meta ignores it, and
// so does Send.
const (
	// DefaultBackoff is the wait before the first retry when
	// SendOptions.Backoff is zero.
	DefaultBackoff = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
	// DefaultAttemptTimeout bounds one POST of a Send with a nil client. Meta
	// gives up after 5 s (20 s on older pages); a little more keeps a slow
	// ingest visible as slow, not failed.
	DefaultAttemptTimeout = 10 * time.Second
)

// SendOptions tune Send.
type SendOptions struct {
	// Rate is first attempts per second; 0 sends as fast as Concurrency
	// allows.
	Rate float64
	// Concurrency is the number of POSTs in flight at once. Default 8.
	Concurrency int
	// Retries is how many times a webhook answered 5xx or 429, or not
	// answered at all, is sent again; 0 sends each once.
	Retries int
	// Backoff is the wait before the first retry, doubled after each up to
	// 5 s. Default DefaultBackoff.
	Backoff time.Duration
}

// Report is what a Send did.
type Report struct {
	Sent     int // webhooks attempted at least once
	Accepted int // answered 2xx
	Retried  int // attempts after the first
	Failed   int // given up on: a final answer that is not 2xx
	// Statuses counts answers by HTTP status; 0 counts transport errors.
	Statuses map[int]int
	Elapsed  time.Duration
}

// Answers renders Statuses as "200=439 503=3", ordered by status, or "none".
func (r *Report) Answers() string {
	if len(r.Statuses) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, status := range slices.Sorted(maps.Keys(r.Statuses)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		if status == 0 {
			b.WriteString("error")
		} else {
			b.WriteString(strconv.Itoa(status))
		}
		fmt.Fprintf(&b, "=%d", r.Statuses[status])
	}
	return b.String()
}

// Send POSTs every webhook's body to url as Meta does: signed with secret in
// X-Hub-Signature-256, retried with backoff after a 5xx (ingest answers 503
// while Kafka is unavailable), a 429 or no answer. client nil uses one with
// DefaultAttemptTimeout per attempt.
//
// It stops starting webhooks when ctx ends; those in flight finish or fail.
// The error is nil only when every webhook was accepted; the Report says how
// far Send got either way. Sending the same webhooks twice adds only
// duplicates, which event ids absorb downstream.
func Send(ctx context.Context, client *http.Client, url, secret string, webhooks []Webhook, opts SendOptions) (Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if client == nil {
		client = &http.Client{Timeout: DefaultAttemptTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: opts.Concurrency}}
	}
	s := &sender{client: client, url: url, secret: secret, opts: opts, rep: Report{Statuses: map[int]int{}}}
	s.send(ctx, webhooks)
	rep := s.rep
	switch {
	case ctx.Err() != nil:
		return rep, fmt.Errorf("interrupted after delivering %d of %d webhooks: %w", rep.Accepted, len(webhooks), ctx.Err())
	case rep.Failed > 0:
		return rep, fmt.Errorf("%d of %d webhooks not delivered, first: %w", rep.Failed, len(webhooks), s.firstErr)
	}
	return rep, nil
}

// sender is one Send in progress.
type sender struct {
	client *http.Client
	url    string
	secret string
	opts   SendOptions

	mu       sync.Mutex
	rep      Report
	firstErr error
}

// send delivers every webhook from opts.Concurrency workers, paced by
// opts.Rate.
func (s *sender) send(ctx context.Context, webhooks []Webhook) {
	var wg sync.WaitGroup
	began := time.Now()
	jobs := make(chan []byte)
	for range s.opts.Concurrency {
		wg.Go(func() {
			for body := range jobs {
				s.deliver(ctx, body)
			}
		})
	}

	var tick <-chan time.Time
	if s.opts.Rate > 0 {
		ticker := time.NewTicker(time.Duration(float64(time.Second) / s.opts.Rate))
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
			s.mu.Lock()
			s.rep.Sent++
			s.mu.Unlock()
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	s.rep.Elapsed = time.Since(began)
}

// deliver POSTs one body until it is accepted, a final answer comes, the
// retries run out or ctx ends, and records the outcome.
func (s *sender) deliver(ctx context.Context, body []byte) {
	signature := meta.Sign(s.secret, body)
	wait := s.opts.Backoff
	for attempt := 0; ; attempt++ {
		status, err := s.post(ctx, body, signature)
		s.mu.Lock()
		s.rep.Statuses[status]++
		s.mu.Unlock()
		if err == nil {
			s.mu.Lock()
			s.rep.Accepted++
			s.mu.Unlock()
			return
		}
		if !retryable(status) || attempt == s.opts.Retries || ctx.Err() != nil {
			s.mu.Lock()
			s.rep.Failed++
			if s.firstErr == nil {
				s.firstErr = fmt.Errorf("after %d attempts: %w", attempt+1, err)
			}
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.rep.Retried++
		s.mu.Unlock()
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
