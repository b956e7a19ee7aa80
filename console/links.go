package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/reftrail/reftrail/internal/links"
)

// linkInput is what POST /api/v1/links and the links page's form send.
type linkInput struct {
	Platform  string `json:"platform"`
	Handle    string `json:"handle"`
	Ref       string `json:"ref"`
	Campaign  string `json:"campaign"`
	Channel   string `json:"channel"`
	Medium    string `json:"medium"`
	Variant   string `json:"variant"`
	Note      string `json:"note"`
	AccountID string `json:"account_id"`
	Kind      string `json:"kind"`
	Topic     string `json:"topic"`
	Cadence   string `json:"cadence"`
	Text      string `json:"text"`
}

// linkJSON is a link as the API answers it; qr_png and qr_svg are paths.
type linkJSON struct {
	Ref           string    `json:"ref"`
	URL           string    `json:"url"`
	Campaign      string    `json:"campaign"`
	Channel       string    `json:"channel"`
	Variant       string    `json:"variant"`
	Platform      string    `json:"platform"`
	Kind          string    `json:"kind"`
	QRPNG         string    `json:"qr_png"`
	QRSVG         string    `json:"qr_svg"`
	Handle        string    `json:"handle"`
	Medium        string    `json:"medium"`
	Note          string    `json:"note"`
	AccountID     string    `json:"account_id"`
	Topic         string    `json:"topic,omitempty"`
	Cadence       string    `json:"cadence,omitempty"`
	Text          string    `json:"text,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	Archived      bool      `json:"archived"`
	Prerequisites []string  `json:"prerequisites"`
}

func toJSON(l links.Link) linkJSON {
	spec, err := links.Parse(l.URL)
	if err != nil {
		// A row written by another tool: show it as stored.
		spec = links.Spec{Platform: l.Platform, Kind: l.Kind}
	}
	base := linkPath(l.Ref)
	return linkJSON{
		Ref: l.Ref, URL: l.URL, Campaign: l.Campaign, Channel: l.Channel, Variant: l.Variant,
		Platform: string(l.Platform), Kind: string(l.Kind), QRPNG: base + "/qr.png", QRSVG: base + "/qr.svg",
		Handle: l.Handle, Medium: l.Medium, Note: l.Note, AccountID: l.AccountID,
		Topic: spec.Topic, Cadence: spec.Cadence, Text: spec.Text,
		CreatedAt: l.CreatedAt.UTC(), Archived: l.Archived, Prerequisites: links.Prerequisites(spec),
	}
}

// linkPath is the API path of the link of ref.
func linkPath(ref string) string { return "/api/v1/links/" + url.PathEscape(ref) }

// errConflict: the ref exists with other attributes.
var errConflict = errors.New("conflict")

// maxLabel and maxNote bound the catalog's free-text fields.
const (
	maxLabel = 200
	maxNote  = 2000
)

// createLink checks in, makes its ref when it has none, and adds the link to
// the catalog. created is false when the ref already held the same link: a
// repeated create changes nothing. Errors: *links.FieldError (bad input),
// errConflict (the ref holds another link), or the store's.
func (s *server) createLink(ctx context.Context, in linkInput) (l links.Link, created bool, err error) {
	for _, f := range []struct{ name, value string }{{"campaign", in.Campaign}, {"channel", in.Channel}, {"medium", in.Medium}, {"variant", in.Variant}} {
		if utf8.RuneCountInString(f.value) > maxLabel {
			return l, false, &links.FieldError{Field: f.name, Rule: fmt.Sprintf("has at most %d characters", maxLabel)}
		}
	}
	if utf8.RuneCountInString(in.Note) > maxNote {
		return l, false, &links.FieldError{Field: "note", Rule: fmt.Sprintf("has at most %d characters", maxNote)}
	}
	if in.AccountID = strings.TrimSpace(in.AccountID); strings.Trim(in.AccountID, "0123456789") != "" || len(in.AccountID) > 20 {
		return l, false, &links.FieldError{Field: "account_id", Rule: "is the numeric id of the Page or Instagram account, up to 20 digits"}
	}
	spec := links.Spec{
		Platform: links.Platform(in.Platform), Handle: in.Handle, Kind: links.Kind(in.Kind),
		Ref: strings.TrimSpace(in.Ref), Text: in.Text, Topic: in.Topic, Cadence: in.Cadence,
	}.Normalize()
	ref := spec.Ref
	if ref == "" {
		// Build checks everything but the ref first, so that a bad handle is
		// reported before a ref is made up.
		probe := spec
		probe.Ref = "x"
		if _, err := links.Build(probe); err != nil {
			return l, false, err
		}
		ref, err = links.GenerateRef(ctx, in.Campaign, in.Channel, in.Variant, func(ctx context.Context, ref string) (bool, error) {
			_, ok, err := s.store.Link(ctx, ref)
			return ok, err
		})
		if err != nil {
			return l, false, err
		}
	} else if err := links.CheckRef(ref); err != nil {
		return l, false, err
	}
	if spec.Kind == links.KindThread {
		spec.Ref = ref
	}
	u, err := links.Build(spec)
	if err != nil {
		return l, false, err
	}
	l = links.Link{
		Ref: ref, Platform: spec.Platform, AccountID: in.AccountID, Handle: spec.Handle, Kind: spec.Kind, URL: u,
		Campaign: strings.TrimSpace(in.Campaign), Channel: strings.TrimSpace(in.Channel), Medium: strings.TrimSpace(in.Medium),
		Variant: strings.TrimSpace(in.Variant), Note: strings.TrimSpace(in.Note), CreatedAt: time.Now().UTC().Truncate(time.Second),
	}
	old, ok, err := s.store.Link(ctx, ref)
	if err != nil {
		return l, false, err
	}
	if ok {
		if old.SameAs(l) {
			return old, false, nil
		}
		return old, false, errConflict
	}
	if err := s.store.InsertLink(ctx, l); err != nil {
		return l, false, err
	}
	s.metrics.linksCreated.WithLabelValues(string(l.Platform)).Inc()
	return l, true, nil
}
