package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/links"
)

// maxRequestBytes bounds a JSON body: a link with the longest ref and note
// takes a few kilobytes.
const maxRequestBytes = 64 << 10

// createLinkAPI is POST /api/v1/links: 201 and the link when created, 200
// and the link when the ref already held exactly this link (so a retried
// request is harmless), 400 naming the bad field, 409 when the ref holds
// another link.
func (s *server) createLinkAPI(w http.ResponseWriter, r *http.Request) {
	var in linkInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "body: "+jsonProblem(err))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "body: one JSON object expected")
		return
	}
	l, created, err := s.createLink(r.Context(), in)
	if s.linkError(w, r, err) {
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", strings.TrimSuffix(s.cfg.PublicURL, "/")+linkPath(l.Ref))
	writeJSON(w, status, toJSON(l))
}

// jsonProblem says what is wrong with a body in words that name the field.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %s must be a %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &maxErr):
		return fmt.Sprintf("larger than %d bytes", maxRequestBytes)
	case errors.Is(err, io.EOF):
		return "empty; send a JSON object"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
}

// linkError answers err, if any, and reports whether it did.
func (s *server) linkError(w http.ResponseWriter, r *http.Request, err error) bool {
	var fe *links.FieldError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Error())
	case errors.Is(err, links.ErrConflict):
		writeError(w, http.StatusConflict, "ref: already used by another link; choose another ref, or leave it empty to have one made")
	default:
		s.serverError(w, r, err)
	}
	return true
}

func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.logger.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error; the console's log says more")
}

// defaultPage is the page size of GET /api/v1/links without a limit; the cap
// is chstore.MaxLinksPage.
const defaultPage = 50

// listLinksAPI is GET /api/v1/links?limit=&offset=&campaign=&archived=:
// {"links": [...], "next": "<path of the next page>"}, newest first; next is
// absent on the last page.
func (s *server) listLinksAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q, "limit", defaultPage, 1, chstore.MaxLinksPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	offset, err := intParam(q, "offset", 0, 0, 1<<30)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	archived := q.Get("archived") == "true"
	// One more than asked tells whether a next page exists.
	ls, err := s.store.Links(r.Context(), chstore.LinkFilter{Campaign: q.Get("campaign"), Archived: archived, Limit: limit + 1, Offset: offset})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := struct {
		Links []linkJSON `json:"links"`
		Next  string     `json:"next,omitempty"`
	}{Links: []linkJSON{}}
	for i, l := range ls {
		if i == limit {
			next := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset + limit)}}
			if c := q.Get("campaign"); c != "" {
				next.Set("campaign", c)
			}
			if archived {
				next.Set("archived", "true")
			}
			out.Next = "/api/v1/links?" + next.Encode()
			break
		}
		out.Links = append(out.Links, toJSON(l))
	}
	writeJSON(w, http.StatusOK, out)
}

func intParam(q url.Values, name string, def, min, max int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s: must be a whole number from %d to %d", name, min, max)
	}
	return n, nil
}

// lookup finds the link of the request's {ref}, answering 404 (or 500) itself
// when there is none.
func (s *server) lookup(w http.ResponseWriter, r *http.Request) (links.Link, bool) {
	ref := r.PathValue("ref")
	l, ok, err := s.store.Link(r.Context(), ref)
	if err != nil {
		s.serverError(w, r, err)
		return l, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, "ref: no link has this ref")
		return l, false
	}
	return l, true
}

// getLinkAPI is GET /api/v1/links/{ref}: the link as POST answers it.
func (s *server) getLinkAPI(w http.ResponseWriter, r *http.Request) {
	if l, ok := s.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, toJSON(l))
	}
}

// PNG sizes the API accepts, in pixels, and its default.
const (
	minQRSize     = 64
	maxQRSize     = 4096
	defaultQRSize = 512
)

// qrCode reads the level and builds the QR code of the request's link. The
// image depends only on the link's URL and on variant (format and size), so
// that is its ETag: a browser showing the same QR code again gets a 304
// before anything is drawn. ok is false when qrCode answered itself.
func (s *server) qrCode(w http.ResponseWriter, r *http.Request, variant ...string) (*links.QRCode, links.Link, bool) {
	l, ok := s.lookup(w, r)
	if !ok {
		return nil, l, false
	}
	level := links.QRLevel(strings.ToUpper(r.URL.Query().Get("level")))
	if !slices.Contains([]links.QRLevel{"", links.QRLevelM, links.QRLevelQ, links.QRLevelH}, level) {
		writeError(w, http.StatusBadRequest, "level: must be M, Q or H (error correction)")
		return nil, l, false
	}
	sum := sha256.Sum256([]byte(strings.Join(append([]string{l.URL, string(level)}, variant...), "\n")))
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil, l, false
	}
	code, err := links.NewQRCode(l.URL, links.QROptions{Level: level})
	if err != nil {
		writeError(w, http.StatusBadRequest, "level: "+err.Error())
		return nil, l, false
	}
	return code, l, true
}

// qrPNG is GET /api/v1/links/{ref}/qr.png?size=N&level=M|Q|H.
func (s *server) qrPNG(w http.ResponseWriter, r *http.Request) {
	size, err := intParam(r.URL.Query(), "size", defaultQRSize, minQRSize, maxQRSize)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error()+" (pixels)")
		return
	}
	code, l, ok := s.qrCode(w, r, "png", strconv.Itoa(size))
	if !ok {
		return
	}
	b, err := code.PNG(size)
	if err != nil {
		writeError(w, http.StatusBadRequest, "size: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Disposition", `inline; filename="`+l.Ref+`.png"`)
	w.Write(b)
}

// qrSVG is GET /api/v1/links/{ref}/qr.svg?level=M|Q|H.
func (s *server) qrSVG(w http.ResponseWriter, r *http.Request) {
	code, l, ok := s.qrCode(w, r, "svg")
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Content-Disposition", `inline; filename="`+l.Ref+`.svg"`)
	w.Write(code.SVG())
}

// maxFunnelPeriod bounds a funnel query: its join holds every event of the
// period plus 7 days in ClickHouse's memory.
const maxFunnelPeriod = 366 * 24 * time.Hour

// funnelParams reads from, to (RFC 3339; default the 30 days to now) and by
// (campaign, channel or ref; default campaign).
func funnelParams(q url.Values, now time.Time) (from, to time.Time, by string, err error) {
	to, from, by = now, now.Add(-30*24*time.Hour), "campaign"
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, by, errors.New("to: must be an RFC 3339 time such as 2026-03-31T00:00:00Z")
		}
		if q.Get("from") == "" {
			from = to.Add(-30 * 24 * time.Hour)
		}
	}
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			return from, to, by, errors.New("from: must be an RFC 3339 time such as 2026-03-01T00:00:00Z")
		}
	}
	switch {
	case !from.Before(to):
		return from, to, by, errors.New("to: must be after from")
	case to.Sub(from) > maxFunnelPeriod:
		return from, to, by, errors.New("from: the period may be at most 366 days")
	}
	if v := q.Get("by"); v != "" {
		by = v
	}
	if !slices.Contains(chstore.FunnelGroups, by) {
		return from, to, by, errors.New("by: must be campaign, channel or ref")
	}
	return from.UTC(), to.UTC(), by, nil
}

// Page sizes of GET /api/v1/funnel: the default, and the cap.
const (
	defaultFunnelPage = 500
	maxFunnelPage     = 1000
)

// funnelAPI is GET /api/v1/funnel?from=&to=&by=campaign|channel|ref&limit=&offset=:
// a page of the groups, most referrals first; next is the path of the next
// page, absent on the last.
func (s *server) funnelAPI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, to, by, err := funnelParams(q, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit, err := intParam(q, "limit", defaultFunnelPage, 1, maxFunnelPage)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	offset, err := intParam(q, "offset", 0, 0, 1<<30)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The funnel is computed whole (its rows are groups, not people); the
	// page is cut here.
	rows, err := s.store.Funnel(r.Context(), from, to, by)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	out := struct {
		From time.Time   `json:"from"`
		To   time.Time   `json:"to"`
		By   string      `json:"by"`
		Rows []funnelRow `json:"rows"`
		Next string      `json:"next,omitempty"`
	}{From: from, To: to, By: by, Rows: []funnelRow{}}
	for _, row := range rows[min(offset, len(rows)):min(offset+limit, len(rows))] {
		out.Rows = append(out.Rows, funnelRow{by: by, FunnelRow: row})
	}
	if offset+limit < len(rows) {
		next := url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}, "by": {by},
			"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset + limit)}}
		out.Next = "/api/v1/funnel?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// funnelRow is one row of GET /api/v1/funnel: the group under the name of
// the grouping ("campaign", "channel" or "ref"), then the counts and rates.
type funnelRow struct {
	by string
	chstore.FunnelRow
}

func (r funnelRow) MarshalJSON() ([]byte, error) {
	name, err := json.Marshal(r.Name)
	if err != nil {
		return nil, err
	}
	counts, err := json.Marshal(struct {
		Referrals     uint64  `json:"referrals"`
		Participants  uint64  `json:"participants"`
		Conversed     uint64  `json:"conversed"`
		Answered      uint64  `json:"answered"`
		Returned      uint64  `json:"returned"`
		ConversedRate float64 `json:"conversed_rate"`
		AnsweredRate  float64 `json:"answered_rate"`
		ReturnedRate  float64 `json:"returned_rate"`
	}{r.Referrals, r.Participants, r.Conversed, r.Answered, r.Returned, r.ConversedRate, r.AnsweredRate, r.ReturnedRate})
	if err != nil {
		return nil, err
	}
	// by is one of chstore.FunnelGroups: plain letters, no escaping needed.
	return append([]byte(`{"`+r.by+`":`+string(name)+`,`), counts[1:]...), nil
}

//go:embed web/openapi.yaml
var openAPIDoc []byte

// openAPI is GET /api/v1/openapi.yaml, the API's description; it needs no
// token. openapi_test.go checks it against routes.go.
func (s *server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(openAPIDoc)
}
