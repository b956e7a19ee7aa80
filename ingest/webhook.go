package main

import (
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
	client   *kgo.Client
	topic    string
	verifier *meta.Verifier
	// topicReady reports whether the raw topic was checked; until then,
	// records go to the spool when there is one.
	topicReady     func() bool
	verifyToken    string
	requestIDs     *requestIDs
	bodies         *bodyReader
	produceTimeout time.Duration
	// deadlines times out requests waiting for Kafka.
	deadlines *deadlines
	// spool is nil when SPOOL_DIR is not set.
	spool   *spooler
	metrics *metrics
	logger  *slog.Logger
}

// verifySubscription answers GET /webhook: Meta's handshake when an app
// subscribes. The challenge is echoed exactly, as plain text, only when the mode
// is subscribe and the token matches.
func (h *webhookHandler) verifySubscription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	challenge := q.Get("hub.challenge")
	if q.Get("hub.mode") != "subscribe" || challenge == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(h.verifyToken)) != 1 {
		h.metrics.outcomes[outcomeForbidden].Inc()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	h.metrics.outcomes[outcomeVerified].Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, challenge)
}

// receive answers POST /webhook. The body is produced unchanged, even when it is
// not valid JSON: its signature proves Meta sent it, a retry would never parse
// either, and enrich dead-letters it with the reason. The answer is 200 only
// once the record is durable: acknowledged by Kafka or fsync'd in the spool.
func (h *webhookHandler) receive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := h.requestIDs.next()
	header := w.Header()
	header["X-Request-Id"] = []string{requestID}

	// Without a well-formed signature the body cannot be Meta's: refuse
	// before reading it.
	signature := r.Header.Get(meta.SignatureHeader)
	if err := meta.CheckSignature(signature); err != nil {
		h.logger.Debug("rejecting webhook", "request_id", requestID, "reason", unauthorizedReason(err))
		w.Header().Set("Connection", "close")
		h.reject(w, outcomeUnauthorized, http.StatusUnauthorized)
		return
	}
	body, release, outcome, status := h.bodies.read(w, r)
	if outcome != "" {
		h.logger.Debug("refusing webhook body", "request_id", requestID, "outcome", outcome)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		w.Header().Set("Connection", "close")
		h.reject(w, outcome, status)
		return
	}
	defer release()
	h.metrics.receivedBytes.Add(float64(len(body)))

	if err := h.verifier.Verify(signature, body); err != nil {
		h.logger.Debug("rejecting webhook", "request_id", requestID, "reason", unauthorizedReason(err))
		h.reject(w, outcomeUnauthorized, http.StatusUnauthorized)
		return
	}

	rec := newRawRecord(h.topic, body, start, requestID, r.Header.Get("Content-Type"), signature)

	// Not the request's context: a client hanging up must not abandon a
	// record mid-flight.
	outcome = h.deliver(start, rec, requestID)
	switch outcome {
	case outcomeAccepted:
		h.metrics.ackSeconds.Observe(time.Since(start).Seconds())
		h.bodies.recycle(body)
	case outcomeSpooled:
		h.metrics.spoolAckSeconds.Observe(time.Since(start).Seconds())
	default:
		h.unavailable(w, outcome)
		return
	}
	h.metrics.outcomes[outcome].Inc()
	// Declared, so that net/http does not sniff it.
	header["Content-Type"] = textPlain
	io.WriteString(w, "EVENT_RECEIVED")
}

var textPlain = []string{"text/plain; charset=utf-8"}

// unauthorizedReason names why a signature was refused (missing, malformed,
// no secret matched) for the debug log: what an operator needs to fix it,
// without the header's value.
func unauthorizedReason(err error) string {
	switch {
	case errors.Is(err, meta.ErrSignatureMissing):
		return "signature missing"
	case errors.Is(err, meta.ErrSignatureMalformed):
		return "signature malformed"
	case errors.Is(err, meta.ErrSignatureMismatch):
		return "no app secret matched"
	}
	return err.Error()
}

func (h *webhookHandler) reject(w http.ResponseWriter, outcome string, status int) {
	h.metrics.outcomes[outcome].Inc()
	http.Error(w, http.StatusText(status), status)
}

// unavailable answers 503 with Retry-After and a body that says nothing about
// why: the public port reveals no broker or disk errors.
func (h *webhookHandler) unavailable(w http.ResponseWriter, outcome string) {
	w.Header().Set("Retry-After", retryAfterSeconds)
	h.reject(w, outcome, http.StatusServiceUnavailable)
}

// rawRecord is a raw record with its headers and their values in one
// allocation.
type rawRecord struct {
	kgo.Record
	headers [4]kgo.RecordHeader
	// values holds the header values and the key when they fit: the
	// request id, a Meta signature and an account id do, with room for a
	// long content type.
	values [224]byte
}

// newRawRecord builds the raw record of a verified body: keyed by its
// account, with the headers enrich reads.
func newRawRecord(topic string, body []byte, received time.Time, requestID, contentType, signature string) *kgo.Record {
	r := &rawRecord{}
	buf := r.values[:0]
	buf = strconv.AppendInt(buf, received.UnixMilli(), 10)
	at := len(buf)
	buf = append(buf, requestID...)
	id := len(buf)
	buf = append(buf, contentType...)
	ct := len(buf)
	buf = append(buf, signature...)
	sig := len(buf)
	key, keyed := meta.AccountKey(body)
	buf = append(buf, key...)
	r.headers = [4]kgo.RecordHeader{
		{Key: kafka.HeaderReceivedAt, Value: buf[:at:at]},
		{Key: kafka.HeaderRequestID, Value: buf[at:id:id]},
		{Key: kafka.HeaderContentType, Value: buf[id:ct:ct]},
		{Key: kafka.HeaderSignature, Value: buf[ct:sig:sig]},
	}
	r.Topic, r.Value, r.Headers = topic, body, r.headers[:]
	if keyed {
		r.Key = buf[sig:]
	}
	return &r.Record
}
