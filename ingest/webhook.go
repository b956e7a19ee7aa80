package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

// retryAfterSeconds is what a 503 suggests. Meta schedules its own retries; the
// header is for other senders and for humans reading logs.
const retryAfterSeconds = "5"

// webhookHandler answers Meta's subscription handshake and receives webhooks.
type webhookHandler struct {
	client         *kgo.Client
	topic          string
	verifier       *meta.Verifier
	verifyToken    string
	maxBodyBytes   int64
	produceTimeout time.Duration
	metrics        *metrics
	logger         *slog.Logger
}

// verifySubscription answers GET /webhook: Meta's handshake when an app
// subscribes. The challenge is echoed exactly, as plain text, only when the mode
// is subscribe and the token matches.
func (h *webhookHandler) verifySubscription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if q.Get("hub.mode") != "subscribe" || challenge == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(h.verifyToken)) != 1 {
		h.metrics.requests.WithLabelValues(outcomeForbidden).Inc()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	h.metrics.requests.WithLabelValues(outcomeVerified).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, challenge)
}

// receive answers POST /webhook. The body is produced unchanged, even when it is
// not valid JSON: its signature proves Meta sent it, a retry would never parse
// either, and enrich dead-letters it with the reason. The answer is 200 only
// after Kafka acknowledged the record.
func (h *webhookHandler) receive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := rand.Text()
	w.Header().Set("X-Request-Id", requestID)

	if r.ContentLength > h.maxBodyBytes {
		h.reject(w, outcomeTooLarge, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.reject(w, outcomeTooLarge, http.StatusRequestEntityTooLarge)
			return
		}
		h.logger.Debug("reading webhook body", "request_id", requestID, "err", err)
		h.reject(w, outcomeBadBody, http.StatusBadRequest)
		return
	}
	h.metrics.receivedBytes.Add(float64(len(body)))

	signature := r.Header.Get(meta.SignatureHeader)
	if err := h.verifier.Verify(signature, body); err != nil {
		h.logger.Debug("rejecting webhook", "request_id", requestID, "err", err)
		h.reject(w, outcomeUnauthorized, http.StatusUnauthorized)
		return
	}

	rec := &kgo.Record{
		Topic: h.topic,
		Value: body,
		Headers: []kgo.RecordHeader{
			{Key: kafka.HeaderReceivedAt, Value: []byte(strconv.FormatInt(start.UnixMilli(), 10))},
			{Key: kafka.HeaderRequestID, Value: []byte(requestID)},
			{Key: kafka.HeaderContentType, Value: []byte(r.Header.Get("Content-Type"))},
			{Key: kafka.HeaderSignature, Value: []byte(signature)},
		},
	}
	if key, ok := meta.AccountKey(body); ok {
		rec.Key = []byte(key)
	}

	// The wait is bounded here, not by the client: once an idempotent record is
	// buffered, franz-go keeps retrying it whatever the context says (franz-go
	// issue #1217). A record that lands after our 503 is a duplicate, which
	// event ids absorb downstream. The request's cancellation is ignored so a
	// client hanging up does not abandon a record mid-flight.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.produceTimeout)
	defer cancel()
	acked := make(chan error, 1)
	h.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err := <-acked:
		if err != nil {
			h.metrics.produceErrors.WithLabelValues("error").Inc()
			h.logger.Warn("kafka refused raw record", "request_id", requestID, "err", err)
			h.unavailable(w)
			return
		}
	case <-ctx.Done():
		h.metrics.produceErrors.WithLabelValues("timeout").Inc()
		h.logger.Warn("kafka did not acknowledge in time", "request_id", requestID, "timeout", h.produceTimeout)
		h.unavailable(w)
		return
	}
	h.metrics.ackSeconds.Observe(time.Since(start).Seconds())
	h.metrics.requests.WithLabelValues(outcomeAccepted).Inc()
	io.WriteString(w, "EVENT_RECEIVED")
}

func (h *webhookHandler) reject(w http.ResponseWriter, outcome string, status int) {
	h.metrics.requests.WithLabelValues(outcome).Inc()
	http.Error(w, http.StatusText(status), status)
}

func (h *webhookHandler) unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	h.reject(w, outcomeUnavailable, http.StatusServiceUnavailable)
}
