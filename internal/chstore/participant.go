package chstore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/reftrail/reftrail/internal/event"
)

// Errors of the read API; test with errors.Is.
var (
	// ErrNotFound: no event of that participant is stored.
	ErrNotFound = errors.New("not found")
	// ErrInvalidPlatform: a platform other than instagram or messenger.
	ErrInvalidPlatform = errors.New("invalid platform: want instagram or messenger")
	// ErrInvalidCursor: a cursor that Windows did not hand out.
	ErrInvalidCursor = errors.New("invalid cursor")
)

// ParsePlatform reads a platform name in any case ("instagram", "MESSENGER").
func ParsePlatform(s string) (event.Platform, error) {
	switch p := event.Platform(strings.ToUpper(s)); p {
	case event.Instagram, event.Messenger:
		return p, nil
	}
	return "", fmt.Errorf("%w: %q", ErrInvalidPlatform, s)
}

// WindowKind is the kind of a messaging window (docs/clickhouse.md,
// "Messaging windows").
type WindowKind string

// Window kinds: 24 hours from the person's last inbound event; 7 days from
// their first message from a click-to-message ad; no window open.
const (
	WindowStandard WindowKind = "standard"
	WindowAd       WindowKind = "ad"
	WindowNone     WindowKind = "none"
)

// Marketing is a person's marketing-messages opt-in (m.me/rn), from their
// latest notification_messages opt-in.
type Marketing string

// Marketing states: never opted in; opted in (or resumed); stopped. A stopped
// person must not be offered for marketing messages.
const (
	MarketingNone       Marketing = ""
	MarketingOptedIn    Marketing = "opted_in"
	MarketingStopped    Marketing = "stopped"
	marketingInStored             = "IN"
	marketingStopStored           = "STOP"
)

func marketingOf(stored string) Marketing {
	switch stored {
	case marketingInStored:
		return MarketingOptedIn
	case marketingStopStored:
		return MarketingStopped
	}
	return MarketingNone
}

// Referral is one referral as Meta sent it, and when. Empty strings stand for
// what Meta left out (AdID is empty except for ads).
type Referral struct {
	Ref, Source, Type, AdID string
	At                      time.Time
}

// Window is a person's messaging window at a moment.
type Window struct {
	// Open says whether the business may message the person now.
	Open bool
	// Kind is WindowStandard or WindowAd while open, WindowNone otherwise.
	Kind WindowKind
	// ExpiresAt is when the window closes or closed; zero when the person
	// never wrote.
	ExpiresAt time.Time
}

// HistoryEvent is one stored event that carried a referral.
type HistoryEvent struct {
	EventID string
	Kind    event.Kind
	Thread  event.Thread
	At      time.Time
	// Ref, Source, Type, AdID and RefererURI are the referral; empty when
	// Meta left them out.
	Ref, Source, Type, AdID, RefererURI string
}

// Participant is what reftrail knows of one person on one business account:
// Postproxy's chat.metadata.referral and more. Times are UTC.
type Participant struct {
	Platform      event.Platform
	AccountID     string
	ParticipantID string
	// LatestReferral and FirstReferral are nil when no event of the person
	// carried a referral. LatestReferral.At is the last referral time.
	LatestReferral, FirstReferral *Referral
	// FirstSeenAt is the person's first event of any kind.
	FirstSeenAt time.Time
	// LastInboundAt is their latest event but echoes and opt-outs; zero when
	// there is none.
	LastInboundAt time.Time
	// Window is the messaging window at the time of the call.
	Window    Window
	Marketing Marketing
	// History holds every event that carried a referral, oldest first.
	History []HistoryEvent
}

// Participant returns what is stored of one person: first and latest
// referral, first seen and last inbound times, the messaging window now, the
// marketing opt-in, and the referral history. platform is read in any case
// (ParsePlatform). An unknown participant is ErrNotFound; a bad platform
// ErrInvalidPlatform.
//
// One lookup of participant_state (a small granule, history included), exact
// whatever the duplicates. The state is the latest stored: a window is
// judged from the newest events, whatever their times.
func (s *Store) Participant(ctx context.Context, platform, accountID, participantID string) (Participant, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return Participant{}, err
	}
	key := map[string]any{"platform": string(p), "account_id": accountID, "participant_id": participantID}
	var (
		found                                    bool
		first, latest                            Referral
		firstMs, latestMs, seenMs, inboundMs, ad int64
		marketing                                string
	)
	var (
		hMs                                                      []int64
		hID, hKind, hThread, hRef, hSource, hType, hAd, hReferer []string
	)
	err = s.each(ctx, "participant", key, 0, func(rows driver.Rows) error {
		found = true
		return rows.Scan(&first.Ref, &first.Source, &firstMs, &latest.Ref, &latest.Source, &latestMs, &seenMs, &inboundMs,
			&first.Type, &first.AdID, &latest.Type, &latest.AdID, &ad, &marketing,
			&hMs, &hID, &hKind, &hThread, &hRef, &hSource, &hType, &hAd, &hReferer)
	})
	if err != nil {
		return Participant{}, err
	}
	if !found {
		return Participant{}, fmt.Errorf("participant %s/%s/%s: %w", p, accountID, participantID, ErrNotFound)
	}
	out := Participant{
		Platform: p, AccountID: accountID, ParticipantID: participantID,
		FirstSeenAt: utcMs(seenMs), LastInboundAt: utcMs(inboundMs),
		Window:    windowAt(inboundMs, ad, s.now()),
		Marketing: marketingOf(marketing),
	}
	// Without a referral the states hold ('', ..., 0).
	if firstMs != 0 {
		first.At, latest.At = utcMs(firstMs), utcMs(latestMs)
		out.FirstReferral, out.LatestReferral = &first, &latest
	}
	for i := range hMs {
		out.History = append(out.History, HistoryEvent{
			EventID: hID[i], Kind: event.Kind(hKind[i]), Thread: event.Thread(hThread[i]), At: utcMs(hMs[i]),
			Ref: hRef[i], Source: hSource[i], Type: hType[i], AdID: hAd[i], RefererURI: hReferer[i],
		})
	}
	return out, nil
}

// windowAt is the window at now of a person whose last inbound event was at
// inboundMs and last message from an ad at adMs (0: none). The window that
// closes last wins; a tie is standard, as in message_windows queries.
func windowAt(inboundMs, adMs int64, now time.Time) Window {
	const standard, ad = 24 * time.Hour, 7 * 24 * time.Hour
	if inboundMs == 0 {
		return Window{Kind: WindowNone}
	}
	w := Window{Kind: WindowStandard, ExpiresAt: utcMs(inboundMs).Add(standard)}
	if adMs != 0 {
		if adEnd := utcMs(adMs).Add(ad); adEnd.After(w.ExpiresAt) {
			w.Kind, w.ExpiresAt = WindowAd, adEnd
		}
	}
	if w.Open = w.ExpiresAt.After(now); !w.Open {
		w.Kind = WindowNone
	}
	return w
}

// OpenWindow is one person who may be messaged now.
type OpenWindow struct {
	ParticipantID string
	Kind          WindowKind // WindowStandard or WindowAd
	ExpiresAt     time.Time
	LastInboundAt time.Time
	// Marketing is MarketingOptedIn when the person may get marketing
	// messages; MarketingStopped people must not be offered for them.
	Marketing Marketing
	// LatestReferral is nil without a referral.
	LatestReferral *Referral
}

// WindowsOptions select a page of Windows.
type WindowsOptions struct {
	// Cursor is the previous page's NextCursor; empty for the first page.
	Cursor string
	// Limit is the page size: DefaultWindowsLimit when 0, at most
	// MaxWindowsLimit.
	Limit int
	// MarketingOnly keeps only the people who may get marketing messages
	// (opted in and not stopped).
	MarketingOnly bool
}

// Page sizes of Windows.
const (
	DefaultWindowsLimit = 100
	MaxWindowsLimit     = 1000
)

// WindowsPage is one page of open windows.
type WindowsPage struct {
	Windows []OpenWindow
	// NextCursor fetches the next page; empty on the last one.
	NextCursor string
}

// Windows lists the people of one business account who may be messaged now,
// with the kind and expiry of their window, the soonest to close first, a page
// at a time. People who stopped marketing messages are listed with
// MarketingStopped (they may still get other messages while their window is
// open) and left out with MarketingOnly. platform is read in any case. A
// Limit above MaxWindowsLimit or below 0 is an error, as is a bad cursor
// (ErrInvalidCursor).
//
// The cursor is the last row's (expiry, participant), so pages neither skip
// nor repeat people while windows open and close between calls; a person whose
// window was extended meanwhile may appear again later.
func (s *Store) Windows(ctx context.Context, platform, accountID string, opts WindowsOptions) (WindowsPage, error) {
	p, err := ParsePlatform(platform)
	if err != nil {
		return WindowsPage{}, err
	}
	limit := opts.Limit
	switch {
	case limit == 0:
		limit = DefaultWindowsLimit
	case limit < 0 || limit > MaxWindowsLimit:
		return WindowsPage{}, fmt.Errorf("windows: limit %d out of 1..%d", limit, MaxWindowsLimit)
	}
	afterMs, afterID, err := decodeCursor(opts.Cursor)
	if err != nil {
		return WindowsPage{}, err
	}
	if !opts.MarketingOnly {
		return s.windowsPage(ctx, p, accountID, afterMs, afterID, limit)
	}
	marketingOnly := 1
	params := map[string]any{
		"platform": string(p), "account_id": accountID, "now_ms": s.now().UnixMilli(),
		"after_expires_ms": afterMs, "after_participant": afterID, "marketing_only": marketingOnly,
	}
	var page WindowsPage
	err = s.each(ctx, "windows", params, limit+1, func(rows driver.Rows) error {
		var (
			w                                OpenWindow
			kind, marketing                  string
			expiresMs, inboundMs, referralMs int64
			ref                              Referral
		)
		if err := rows.Scan(&w.ParticipantID, &kind, &expiresMs, &inboundMs, &marketing,
			&ref.Ref, &ref.Source, &ref.Type, &ref.AdID, &referralMs); err != nil {
			return err
		}
		w.Kind, w.ExpiresAt, w.LastInboundAt, w.Marketing = WindowKind(kind), utcMs(expiresMs), utcMs(inboundMs), marketingOf(marketing)
		if referralMs != 0 {
			ref.At = utcMs(referralMs)
			w.LatestReferral = &ref
		}
		page.Windows = append(page.Windows, w)
		return nil
	})
	if err != nil {
		return WindowsPage{}, err
	}
	return page.cut(limit), nil
}

// cut keeps the first limit windows of a page read with limit+1 rows, and
// sets NextCursor when there were more.
func (page WindowsPage) cut(limit int) WindowsPage {
	if len(page.Windows) > limit {
		page.Windows = page.Windows[:limit]
		last := page.Windows[limit-1]
		page.NextCursor = encodeCursor(last.ExpiresAt.UnixMilli(), last.ParticipantID)
	}
	return page
}

// windowsPage is Windows without MarketingOnly: the page from message_windows
// alone, then the state of the page's participants only. windows.sql, which
// joins the state of every open window's participant before filtering,
// read about 400 MB of participant_state per call on ten million events.
func (s *Store) windowsPage(ctx context.Context, p event.Platform, accountID string, afterMs int64, afterID string, limit int) (WindowsPage, error) {
	params := map[string]any{
		"platform": string(p), "account_id": accountID, "now_ms": s.now().UnixMilli(),
		"after_expires_ms": afterMs, "after_participant": afterID,
	}
	var page WindowsPage
	err := s.each(ctx, "windows_page", params, limit+1, func(rows driver.Rows) error {
		var (
			w         OpenWindow
			kind      string
			expiresMs int64
		)
		if err := rows.Scan(&w.ParticipantID, &kind, &expiresMs); err != nil {
			return err
		}
		w.Kind, w.ExpiresAt = WindowKind(kind), utcMs(expiresMs)
		page.Windows = append(page.Windows, w)
		return nil
	})
	if err != nil || len(page.Windows) == 0 {
		return page, err
	}
	page = page.cut(limit)
	ids := make([]string, len(page.Windows))
	at := make(map[string]int, len(page.Windows))
	for i, w := range page.Windows {
		ids[i], at[w.ParticipantID] = quoteString(w.ParticipantID), i
	}
	// The id list is built here, quoted: BindQuery has no array parameters.
	q := `SELECT
    participant_id,
    maxIfMerge(last_inbound_state),
    argMaxIfMerge(marketing_state),
    tupleElement(argMaxIfMerge(latest_referral_state), 1),
    tupleElement(argMaxIfMerge(latest_referral_state), 2),
    tupleElement(argMaxIfMerge(latest_referral_state), 3),
    tupleElement(argMaxIfMerge(latest_referral_state), 4),
    tupleElement(argMaxIfMerge(latest_referral_state), 5)
FROM participant_state
WHERE platform = ` + quoteString(string(p)) + ` AND account_id = ` + quoteString(accountID) + `
    AND participant_id IN (` + strings.Join(ids, ", ") + `)
GROUP BY participant_id`
	rows, err := s.queries.Query(ctx, q)
	if err != nil {
		return WindowsPage{}, fmt.Errorf("reading the windows' participants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, marketing         string
			inboundMs, referralMs int64
			ref                   Referral
		)
		if err := rows.Scan(&id, &inboundMs, &marketing, &ref.Ref, &ref.Source, &ref.Type, &ref.AdID, &referralMs); err != nil {
			return WindowsPage{}, fmt.Errorf("reading the windows' participants: %w", err)
		}
		w := &page.Windows[at[id]]
		w.LastInboundAt, w.Marketing = utcMs(inboundMs), marketingOf(marketing)
		if referralMs != 0 {
			ref.At = utcMs(referralMs)
			w.LatestReferral = &ref
		}
	}
	if err := rows.Err(); err != nil {
		return WindowsPage{}, fmt.Errorf("reading the windows' participants: %w", err)
	}
	return page, nil
}

// A cursor is base64url("<expires ms>:<participant id>"): opaque to callers,
// readable in logs when decoded.
func encodeCursor(ms int64, participant string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(ms, 10) + ":" + participant))
}

func decodeCursor(c string) (int64, string, error) {
	if c == "" {
		return 0, "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrInvalidCursor
	}
	msText, participant, ok := strings.Cut(string(b), ":")
	ms, err := strconv.ParseInt(msText, 10, 64)
	if !ok || err != nil || participant == "" {
		return 0, "", ErrInvalidCursor
	}
	return ms, participant, nil
}

func utcMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
