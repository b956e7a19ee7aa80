package main

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/reftrail/reftrail/internal/deletion"
	"github.com/reftrail/reftrail/internal/kafka"
	"github.com/reftrail/reftrail/internal/meta"
)

// maxDeletionBodyBytes bounds a data deletion callback's form: a
// signed_request is a few hundred bytes.
const maxDeletionBodyBytes = 64 << 10

// deletionHandler answers Meta's data deletion callback (POST /data-deletion)
// and serves the status page it points the person to. Requests are recorded
// in DELETION_TOPIC; the page reads the book that follows that topic, where
// reftrailctl deletions process writes what became of each request.
type deletionHandler struct {
	client         *kgo.Client // ingest's producer
	topic          string
	verifier       *meta.Verifier
	publicURL      string
	produceTimeout time.Duration
	book           *deletion.Book
	// bodies reads forms within a byte budget and a body deadline of their
	// own, as webhooks are read (limits.go): this route faces the internet too.
	bodies *bodyReader
	// topicReady is set once the deletion topic exists; before, requests
	// are answered 503 and Meta retries.
	topicReady atomic.Bool
	logger     *slog.Logger
}

// newDeletionHandler returns the handler and, until ctx ends, creates the
// deletion topic when missing and follows it with a client of its own; stop
// closes that client.
func newDeletionHandler(ctx context.Context, cfg Config, producer *kgo.Client, logger *slog.Logger, reg prometheus.Registerer) (h *deletionHandler, stop func(), err error) {
	consumer, err := kafka.NewClient(cfg.Kafka, "ingest_deletions", logger, reg,
		kgo.ConsumeTopics(cfg.DeletionTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	if err != nil {
		return nil, nil, err
	}
	h = &deletionHandler{
		client:         producer,
		topic:          cfg.DeletionTopic,
		verifier:       meta.NewVerifier(cfg.AppSecrets),
		publicURL:      cfg.PublicURL,
		produceTimeout: cfg.ProduceTimeout,
		book:           deletion.NewBook(),
		bodies:         newBodyReader(maxDeletionBodyBytes),
		logger:         logger,
	}
	followCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Created in the background, as the raw topic is, so ingest
		// listens at once; until then a request is answered 503.
		if kafka.EnsureTopicsRetrying(followCtx, producer, cfg.Kafka, logger, kafka.Topic{Name: cfg.DeletionTopic, Compact: true}) != nil {
			return
		}
		h.topicReady.Store(true)
		deletion.Follow(followCtx, consumer, h.book, logger)
	}()
	return h, func() { cancel(); <-done; consumer.Close() }, nil
}

// receive answers POST /data-deletion: a form with signed_request, checked
// against the app secrets. Only a verified request is recorded; it is
// answered once Kafka has it, with the status URL and confirmation code.
func (h *deletionHandler) receive(w http.ResponseWriter, r *http.Request) {
	body, release, _, status := h.bodies.read(w, r)
	if status != 0 {
		writeJSONError(w, status, strings.ToLower(http.StatusText(status)))
		return
	}
	form, err := url.ParseQuery(string(body))
	release()
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "want a form with signed_request")
		return
	}
	signed := form.Get("signed_request")
	sr, err := h.verifier.ParseSignedRequest(signed)
	if err != nil {
		h.logger.Debug("rejecting data deletion request", "err", err)
		msg := "signed_request is invalid"
		switch {
		case errors.Is(err, meta.ErrSignedRequestMismatch):
			msg = "signed_request signature does not match"
		case errors.Is(err, meta.ErrSignedRequestAlgorithm):
			msg = "signed_request algorithm must be HMAC-SHA256"
		case signed == "":
			msg = "signed_request is missing"
		}
		writeJSONError(w, http.StatusBadRequest, msg)
		return
	}
	if !h.topicReady.Load() {
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSONError(w, http.StatusServiceUnavailable, "not ready to record requests yet; try again")
		return
	}
	now := time.Now().UTC()
	req := deletion.Request{
		Code:       deletion.NewCode(),
		UserID:     sr.UserID,
		IssuedAt:   time.Unix(sr.IssuedAt, 0).UTC(),
		ReceivedAt: now,
		Status:     deletion.Received,
		UpdatedAt:  now,
	}
	rec, err := req.Record(h.topic)
	if err != nil {
		writeJSONError(w, http.StatusInternalServerError, "could not record the request")
		return
	}
	// Bounded as for webhooks: franz-go keeps a buffered record whatever the
	// context says, so the answer comes from whichever is first.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), h.produceTimeout)
	defer cancel()
	acked := make(chan error, 1)
	h.client.Produce(ctx, rec, func(_ *kgo.Record, err error) { acked <- err })
	select {
	case err = <-acked:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		h.logger.Warn("recording data deletion request", "err", err)
		w.Header().Set("Retry-After", retryAfterSeconds)
		writeJSONError(w, http.StatusServiceUnavailable, "could not record the request; try again")
		return
	}
	h.book.Put(req)
	h.logger.Info("data deletion request recorded", "confirmation_code", req.Code)
	writeJSON(w, http.StatusOK, map[string]string{
		"url":               h.publicURL + "/data-deletion/status/" + req.Code,
		"confirmation_code": req.Code,
	})
}

// status serves the page a person checks their request on: HTML, or JSON when
// asked for. It says what happened and no more: Meta's user id is
// app-scoped, so without a mapping nothing can be found by it.
func (h *deletionHandler) status(w http.ResponseWriter, r *http.Request) {
	req, ok := h.book.Get(r.PathValue("code"))
	if !ok {
		if wantsJSON(r) {
			writeJSONError(w, http.StatusNotFound, "no data deletion request has this confirmation code")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		statusPage.Execute(w, statusView{Title: "Unknown confirmation code", Paragraphs: []string{
			"No data deletion request has this confirmation code. Check the link Meta gave you; a request made in the last minute may not be listed yet.",
		}})
		return
	}
	view := viewOf(req)
	if wantsJSON(r) {
		out := map[string]any{"confirmation_code": req.Code, "status": req.Status, "received_at": req.ReceivedAt.Format(time.RFC3339), "message": strings.Join(view.Paragraphs, " ")}
		if !req.FinishedAt.IsZero() {
			out["finished_at"] = req.FinishedAt.Format(time.RFC3339)
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	statusPage.Execute(w, view)
}

type statusView struct {
	Title      string
	Code       string
	Paragraphs []string
}

const appScoped = "Meta identifies you to this business with an app-scoped ID, which is not the ID its messaging records use, so your conversations can be found only if the business has linked the two."

func viewOf(req deletion.Request) statusView {
	received := "Your request was received on " + req.ReceivedAt.Format("2 January 2006 at 15:04 UTC") + "."
	v := statusView{Code: req.Code}
	switch req.Status {
	case deletion.NoMatch:
		v.Title = "Processed: nothing could be identified"
		v.Paragraphs = []string{received,
			"It was processed on " + req.FinishedAt.Format("2 January 2006 at 15:04 UTC") + ". " + appScoped +
				" No such link exists for the ID Meta sent, so no messaging data could be identified by it and none was deleted by this request.",
			"If you wrote to this business on Messenger or Instagram, ask the business directly to delete that conversation's data, quoting this confirmation code."}
	case deletion.Erased:
		v.Title = "Processed: your data was deleted"
		v.Paragraphs = []string{received,
			"The messaging data linked to the ID Meta sent was deleted on " + req.FinishedAt.Format("2 January 2006 at 15:04 UTC") + ".",
			"Copies in the business's incoming-message log and in backups are not edited; they expire on their own schedule."}
	default:
		v.Title = "Received, not processed yet"
		v.Paragraphs = []string{received, appScoped, "The request has not been processed yet. Check this page again later."}
	}
	return v
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data deletion request: {{.Title}}</title></head>
<body><main>
<h1>Data deletion request</h1>
<h2>{{.Title}}</h2>
{{range .Paragraphs}}<p>{{.}}</p>
{{end}}{{if .Code}}<p>Confirmation code: <code>{{.Code}}</code></p>{{end}}
</main></body></html>
`))

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
