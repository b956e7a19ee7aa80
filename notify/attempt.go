package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// outcome is what one attempt (or a skipped one) came to.
type outcome struct {
	ok bool
	// status is the HTTP status, 0 when there was no answer.
	status int
	// class is the metric label of a failure: 3xx, 4xx, 5xx, timeout,
	// network or refused (an address not allowed).
	class string
	// reason is short and stable, for the parked record's header: http_503,
	// timeout, network, address_not_allowed, ...
	reason string
	// retryAfter is the endpoint's Retry-After, 0 when absent.
	retryAfter time.Duration
	// endpointDown says the failure is the endpoint's rather than this
	// message's (no answer, 5xx, 408, 429): later deliveries to it would
	// fail too, so they wait in the retry topics instead of being tried.
	endpointDown bool
}

// attempt POSTs one signed delivery and reads at most maxResponseBytes of the
// answer. The timestamp and signature are fresh for every attempt.
func (n *notifier) attempt(ctx context.Context, ep *endpoint, id string, body []byte) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return outcome{class: "network", reason: "bad_request", endpointDown: true}
	}
	ts := time.Now().Unix()
	req.Header.Set("content-type", "application/json")
	req.Header.Set("user-agent", "reftrail-notify")
	req.Header[headerID] = []string{id}
	req.Header[headerTimestamp] = []string{strconv.FormatInt(ts, 10)}
	req.Header[headerSignature] = []string{sign(n.cfg.Key, id, ts, body)}
	resp, err := n.http.Do(req)
	if err != nil {
		return failure(err)
	}
	// Drain what the cap allows so the connection can be reused, and no more.
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	return statusOutcome(resp.StatusCode, resp.Header.Get("Retry-After"), time.Now())
}

func statusOutcome(status int, retryAfter string, now time.Time) outcome {
	o := outcome{status: status, reason: "http_" + strconv.Itoa(status)}
	switch {
	case status >= 200 && status < 300:
		o.ok = true
		return o
	case status < 400:
		o.class = "3xx"
	case status < 500:
		o.class = "4xx"
		o.endpointDown = status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
	default:
		o.class = "5xx"
		o.endpointDown = true
	}
	o.retryAfter = parseRetryAfter(retryAfter, now)
	return o
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent
// or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(30*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func failure(err error) outcome {
	var netErr net.Error
	switch {
	case errors.Is(err, errAddressNotAllowed):
		return outcome{class: "refused", reason: "address_not_allowed", endpointDown: true}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return outcome{class: "timeout", reason: "timeout", endpointDown: true}
	}
	return outcome{class: "network", reason: "network", endpointDown: true}
}
