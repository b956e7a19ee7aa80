package main

import (
	"context"
	"net/url"
	"time"

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

// createLink adds the link of in to the catalog (links.Create) and counts it.
func (s *server) createLink(ctx context.Context, in linkInput) (l links.Link, created bool, err error) {
	l, created, err = links.Create(ctx, s.store, links.Input{
		Spec: links.Spec{
			Platform: links.Platform(in.Platform), Handle: in.Handle, Kind: links.Kind(in.Kind),
			Ref: in.Ref, Text: in.Text, Topic: in.Topic, Cadence: in.Cadence,
		},
		Campaign: in.Campaign, Channel: in.Channel, Medium: in.Medium, Variant: in.Variant, Note: in.Note, AccountID: in.AccountID,
	}, time.Now())
	if created {
		s.metrics.linksCreated.WithLabelValues(string(l.Platform)).Inc()
	}
	return l, created, err
}
