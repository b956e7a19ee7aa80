package main

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/event"
)

// referralJSON is a referral in the API: ref, source, type and ad_id are
// null when Meta left them out.
type referralJSON struct {
	Ref    *string   `json:"ref"`
	Source *string   `json:"source"`
	Type   *string   `json:"type"`
	AdID   *string   `json:"ad_id"`
	At     time.Time `json:"at"`
}

// windowJSON is a messaging window in the API; expires_at is null when the
// person never wrote.
type windowJSON struct {
	Open      bool       `json:"open"`
	Kind      string     `json:"kind"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// historyJSON is one referral-bearing event of a participant's history.
type historyJSON struct {
	EventID string    `json:"event_id"`
	Kind    string    `json:"kind"`
	Thread  string    `json:"thread"`
	At      time.Time `json:"at"`
	Ref     *string   `json:"ref"`
	Source  *string   `json:"source"`
	AdID    *string   `json:"ad_id"`
}

// participantJSON is GET /api/v1/participants/{platform}/{account_id}/{participant_id}
// as docs/ARCHITECTURE.md (Console HTTP API) fixes it.
type participantJSON struct {
	LatestReferral *referralJSON `json:"latest_referral"`
	FirstReferral  *referralJSON `json:"first_referral"`
	LastReferralAt *time.Time    `json:"last_referral_at"`
	FirstSeenAt    time.Time     `json:"first_seen_at"`
	LastInboundAt  *time.Time    `json:"last_inbound_at"`
	Window         windowJSON    `json:"window"`
	History        []historyJSON `json:"history"`
}

// optional is s, or nil for "".
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// instant is t in UTC, or nil for the zero time.
func instant(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func toReferralJSON(r *chstore.Referral) *referralJSON {
	if r == nil {
		return nil
	}
	return &referralJSON{Ref: optional(r.Ref), Source: optional(r.Source), Type: optional(r.Type), AdID: optional(r.AdID), At: r.At.UTC()}
}

func toWindowJSON(w chstore.Window) windowJSON {
	return windowJSON{Open: w.Open, Kind: string(w.Kind), ExpiresAt: instant(w.ExpiresAt)}
}

func toParticipantJSON(p chstore.Participant) participantJSON {
	out := participantJSON{
		LatestReferral: toReferralJSON(p.LatestReferral), FirstReferral: toReferralJSON(p.FirstReferral),
		FirstSeenAt: p.FirstSeenAt.UTC(), LastInboundAt: instant(p.LastInboundAt),
		Window: toWindowJSON(p.Window), History: []historyJSON{},
	}
	if p.LatestReferral != nil {
		out.LastReferralAt = instant(p.LatestReferral.At)
	}
	for _, h := range p.History {
		out.History = append(out.History, historyJSON{
			EventID: h.EventID, Kind: string(h.Kind), Thread: string(h.Thread), At: h.At.UTC(),
			Ref: optional(h.Ref), Source: optional(h.Source), AdID: optional(h.AdID),
		})
	}
	return out
}

// participantAPI is GET /api/v1/participants/{platform}/{account_id}/{participant_id}:
// the participant's latest and first referral, their window now and their
// referral history; 404 when nothing is stored of them.
func (s *server) participantAPI(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.Participant(r.Context(), r.PathValue("platform"), r.PathValue("account_id"), r.PathValue("participant_id"))
	switch {
	case errors.Is(err, chstore.ErrInvalidPlatform):
		writeError(w, http.StatusBadRequest, "platform: must be instagram or messenger (any case)")
	case errors.Is(err, chstore.ErrNotFound):
		writeError(w, http.StatusNotFound, "participant_id: no event of this participant on this account is stored")
	case err != nil:
		s.serverError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, toParticipantJSON(p))
	}
}

// openWindowJSON is one row of GET /api/v1/windows.
type openWindowJSON struct {
	ParticipantID  string        `json:"participant_id"`
	Kind           string        `json:"kind"`
	ExpiresAt      time.Time     `json:"expires_at"`
	LastInboundAt  *time.Time    `json:"last_inbound_at"`
	Marketing      string        `json:"marketing"`
	LatestReferral *referralJSON `json:"latest_referral"`
}

// marketingJSON names a marketing opt-in state in the API.
func marketingJSON(m chstore.Marketing) string {
	if m == chstore.MarketingNone {
		return "none"
	}
	return string(m)
}

// windowsQuery is what GET /api/v1/windows and the open windows page read
// from the URL.
type windowsQuery struct {
	Platform, AccountID, Cursor string
	Limit                       int
	Marketing                   bool // purpose=marketing
}

// readWindowsQuery reads platform and account_id (required), limit, cursor
// and purpose (any or marketing).
func readWindowsQuery(q url.Values) (windowsQuery, error) {
	wq := windowsQuery{Platform: q.Get("platform"), AccountID: q.Get("account_id"), Cursor: q.Get("cursor")}
	if wq.Platform == "" {
		return wq, errors.New("platform: required, instagram or messenger")
	}
	if _, err := chstore.ParsePlatform(wq.Platform); err != nil {
		return wq, errors.New("platform: must be instagram or messenger (any case)")
	}
	if wq.AccountID == "" {
		return wq, errors.New("account_id: required, the Instagram account or Page id")
	}
	limit, err := intParam(q, "limit", chstore.DefaultWindowsLimit, 1, chstore.MaxWindowsLimit)
	if err != nil {
		return wq, err
	}
	wq.Limit = limit
	switch q.Get("purpose") {
	case "", "any":
	case "marketing":
		wq.Marketing = true
	default:
		return wq, errors.New("purpose: must be any or marketing")
	}
	return wq, nil
}

// windows reads one page of open windows; a bad cursor is the caller's
// mistake.
func (s *server) windows(r *http.Request, wq windowsQuery) (chstore.WindowsPage, error) {
	return s.store.Windows(r.Context(), wq.Platform, wq.AccountID, chstore.WindowsOptions{Cursor: wq.Cursor, Limit: wq.Limit, MarketingOnly: wq.Marketing})
}

// next is the query of the page after wq's, at cursor.
func (wq windowsQuery) next(cursor string) url.Values {
	v := url.Values{"platform": {strings.ToLower(wq.Platform)}, "account_id": {wq.AccountID}, "cursor": {cursor}, "limit": {strconv.Itoa(wq.Limit)}}
	if wq.Marketing {
		v.Set("purpose", "marketing")
	}
	return v
}

// windowsAPI is GET /api/v1/windows?platform=&account_id=&limit=&cursor=&purpose=:
// who may be messaged now, the soonest to close first, a page at a time;
// with purpose=marketing, only the people who may get marketing messages
// (never those who stopped them).
func (s *server) windowsAPI(w http.ResponseWriter, r *http.Request) {
	wq, err := readWindowsQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.windows(r, wq)
	switch {
	case errors.Is(err, chstore.ErrInvalidCursor):
		writeError(w, http.StatusBadRequest, "cursor: not one this API handed out; start again without it")
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	out := struct {
		Windows []openWindowJSON `json:"windows"`
		Next    string           `json:"next,omitempty"`
	}{Windows: []openWindowJSON{}}
	for _, ow := range page.Windows {
		out.Windows = append(out.Windows, openWindowJSON{
			ParticipantID: ow.ParticipantID, Kind: string(ow.Kind), ExpiresAt: ow.ExpiresAt.UTC(),
			LastInboundAt: instant(ow.LastInboundAt), Marketing: marketingJSON(ow.Marketing), LatestReferral: toReferralJSON(ow.LatestReferral),
		})
	}
	if page.NextCursor != "" {
		out.Next = "/api/v1/windows?" + wq.next(page.NextCursor).Encode()
	}
	writeJSON(w, http.StatusOK, out)
}

// participantPageData is the participant lookup: the form, and what is
// stored of the participant asked for.
type participantPageData struct {
	Platform, AccountID, ParticipantID string
	Error                              string
	Asked                              bool // the form was sent
	Found                              *chstore.Participant
	Timeline                           []timelineItem
	APIPath                            string
}

// timelineItem is one history event in words.
type timelineItem struct {
	At                time.Time
	What              string
	Ref, Source, AdID string
}

// eventWords say what a kind of referral-bearing event was.
var eventWords = map[event.Kind]string{
	event.KindReferral: "Opened a link",
	event.KindMessage:  "Wrote, after a link or ad",
	event.KindPostback: "Tapped Get Started, after a link or ad",
	event.KindOptin:    "Opted in to messages",
}

// participantPage is GET /participants?platform=&account_id=&participant_id=.
func (s *server) participantPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := participantPageData{Platform: strings.ToLower(q.Get("platform")), AccountID: strings.TrimSpace(q.Get("account_id")), ParticipantID: strings.TrimSpace(q.Get("participant_id"))}
	if data.Platform == "" {
		data.Platform = "instagram"
	}
	data.Asked = q.Has("participant_id")
	if !data.Asked {
		s.render(w, r, http.StatusOK, "participant", "Look up a person", data)
		return
	}
	if data.AccountID == "" || data.ParticipantID == "" {
		data.Error = "Please give the account id and the person's id."
		s.render(w, r, http.StatusBadRequest, "participant", "Look up a person", data)
		return
	}
	p, err := s.store.Participant(r.Context(), data.Platform, data.AccountID, data.ParticipantID)
	switch {
	case errors.Is(err, chstore.ErrInvalidPlatform):
		data.Error = "Please choose Instagram or Messenger."
		s.render(w, r, http.StatusBadRequest, "participant", "Look up a person", data)
		return
	case errors.Is(err, chstore.ErrNotFound):
		data.Error = "reftrail has nothing from this person on this account. Check the account and the id: ids differ between a Page and an Instagram account."
		s.render(w, r, http.StatusNotFound, "participant", "Look up a person", data)
		return
	case err != nil:
		s.pageError(w, r, err)
		return
	}
	data.Found = &p
	data.APIPath = "/api/v1/participants/" + url.PathEscape(data.Platform) + "/" + url.PathEscape(data.AccountID) + "/" + url.PathEscape(data.ParticipantID)
	for _, h := range p.History {
		what := eventWords[h.Kind]
		if what == "" {
			what = string(h.Kind)
		}
		data.Timeline = append(data.Timeline, timelineItem{At: h.At, What: what, Ref: h.Ref, Source: h.Source, AdID: h.AdID})
	}
	s.render(w, r, http.StatusOK, "participant", "Look up a person", data)
}

// windowsPageData is the open windows page: the account asked for and a
// page of its open windows.
type windowsPageData struct {
	Platform, AccountID string
	Marketing           bool
	Error               string
	Asked               bool
	Windows             []chstore.OpenWindow
	Next                template.URL // the next page; empty on the last
}

// windowsPerPage is the open windows page's size.
const windowsPerPage = 50

// windowsPage is GET /windows?platform=&account_id=&purpose=&cursor=.
func (s *server) windowsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := windowsPageData{Platform: strings.ToLower(q.Get("platform")), AccountID: strings.TrimSpace(q.Get("account_id")), Marketing: q.Get("purpose") == "marketing"}
	if data.Platform == "" {
		data.Platform = "instagram"
	}
	data.Asked = q.Has("account_id")
	if !data.Asked {
		s.render(w, r, http.StatusOK, "windows", "Open windows", data)
		return
	}
	q.Set("limit", strconv.Itoa(windowsPerPage))
	q.Set("platform", data.Platform)
	q.Set("account_id", data.AccountID)
	wq, err := readWindowsQuery(q)
	if err != nil {
		data.Error = "Please choose Instagram or Messenger and give the account id."
		s.render(w, r, http.StatusBadRequest, "windows", "Open windows", data)
		return
	}
	page, err := s.windows(r, wq)
	switch {
	case errors.Is(err, chstore.ErrInvalidCursor):
		data.Error = "That page is no longer valid; here is the first."
		wq.Cursor = ""
		page, err = s.windows(r, wq)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data.Windows = page.Windows
	if page.NextCursor != "" {
		data.Next = template.URL("/windows?" + wq.next(page.NextCursor).Encode())
	}
	s.render(w, r, http.StatusOK, "windows", "Open windows", data)
}
