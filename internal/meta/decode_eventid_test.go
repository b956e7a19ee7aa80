package meta

import (
	"strings"
	"testing"

	"github.com/reftrail/reftrail/internal/event"
)

func strp(s string) *string { return &s }

// baseReferral is a standalone Instagram referral; the tests vary one field.
func baseReferral() event.Event {
	return event.Event{
		Platform:      event.Instagram,
		Kind:          event.KindReferral,
		AccountID:     "17841400000000001",
		ParticipantID: "1000000000000001",
		EventTime:     1717000000000,
		ReceivedTime:  1717000999000,
		Thread:        event.ThreadExisting,
		Referral:      &event.Referral{Ref: "summer_promo", Source: "SHORTLINKS", Type: "OPEN_THREAD"},
		RawPartition:  3,
		RawOffset:     42,
	}
}

func TestEventIDUsesMid(t *testing.T) {
	tests := []struct {
		name string
		mid  *string
		want string
	}{
		{name: "mid", mid: strp("m_abc"), want: "m_abc"},
		{name: "no mid", mid: nil, want: "h:"},
		{name: "empty mid", mid: strp(""), want: "h:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := baseReferral()
			ev.Kind = event.KindMessage
			ev.MessageID = tt.mid
			if got := eventID(&ev); !strings.HasPrefix(got, tt.want) || (tt.want == "h:" && len(got) != 34) {
				t.Errorf("eventID = %q, want %q (or h: and 32 hex digits)", got, tt.want)
			}
		})
	}
}

// TestEventIDStable pins the hashed id of one event: a change here changes
// every stored id, so it must come with a new eventIDDomain.
func TestEventIDStable(t *testing.T) {
	ev := baseReferral()
	const want = "h:0e167321f9a542381d038ac836207ffa"
	if got := eventID(&ev); got != want {
		t.Errorf("eventID = %q, want %q", got, want)
	}
	ev.ReceivedTime, ev.RawPartition, ev.RawOffset = 1, 2, 3
	if got := eventID(&ev); got != want {
		t.Errorf("eventID after changing lineage = %q, want %q (lineage is not identity)", got, want)
	}
}

func TestEventIDDiffers(t *testing.T) {
	tests := []struct {
		name   string
		change func(*event.Event)
	}{
		{name: "ref", change: func(e *event.Event) { e.Referral.Ref = "winter_promo" }},
		{name: "time by one ms", change: func(e *event.Event) { e.EventTime++ }},
		{name: "source", change: func(e *event.Event) { e.Referral.Source = "SHORTLINK" }},
		{name: "type", change: func(e *event.Event) { e.Referral.Type = "" }},
		{name: "participant", change: func(e *event.Event) { e.ParticipantID = "1000000000000002" }},
		{name: "account", change: func(e *event.Event) { e.AccountID = "17841400000000002" }},
		{name: "platform", change: func(e *event.Event) { e.Platform = event.Messenger }},
		{name: "kind", change: func(e *event.Event) { e.Kind = event.KindOptin }},
		{name: "ref and source boundary", change: func(e *event.Event) {
			e.Referral.Ref, e.Referral.Source = "summer_promoS", "HORTLINKS"
		}},
		{name: "account and participant boundary", change: func(e *event.Event) {
			e.AccountID, e.ParticipantID = "178414000000000011", "000000000000001"
		}},
		{name: "ad id absent vs empty", change: func(e *event.Event) { e.Referral.AdID = strp("") }},
		{name: "referer uri", change: func(e *event.Event) { e.Referral.RefererURI = strp("https://example.com") }},
		{name: "ads context", change: func(e *event.Event) { e.Referral.AdsContext = &event.AdsContext{} }},
		{name: "ads context title", change: func(e *event.Event) { e.Referral.AdsContext = &event.AdsContext{AdTitle: strp("t")} }},
		{name: "no referral", change: func(e *event.Event) { e.Referral = nil }},
		{name: "optin", change: func(e *event.Event) { e.Optin = &event.Optin{Type: "notification_messages"} }},
		{name: "optin title", change: func(e *event.Event) { e.Optin = &event.Optin{Type: "notification_messages", Title: strp("")} }},
		{name: "postback title", change: func(e *event.Event) { e.PostbackTitle = strp("") }},
		{name: "title vs payload", change: func(e *event.Event) { e.PostbackPayload = strp("") }},
	}
	base := baseReferral()
	baseID := eventID(&base)
	seen := map[string]string{baseID: "base"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := baseReferral()
			tt.change(&ev)
			got := eventID(&ev)
			if prev, ok := seen[got]; ok {
				t.Errorf("eventID = %q, the same as for %q", got, prev)
			}
			seen[got] = tt.name
		})
	}
}
