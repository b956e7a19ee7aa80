package main

import (
	"encoding/json"
	"time"

	"github.com/reftrail/reftrail/internal/event"
)

// eventType is the type of every webhook notify sends.
const eventType = "referral.received"

// payload is the JSON body of a webhook (docs/notify.md), a contract with
// subscribers: add fields, never rename them.
type payload struct {
	Type string `json:"type"`
	// Timestamp is when the referral happened (the event's event_time), so
	// that every attempt and every duplicate has the same body.
	Timestamp string      `json:"timestamp"`
	Data      payloadData `json:"data"`
}

// payloadData carries the event's fields under their topic names, with the
// enums spelled as in reftrail.events.v1 (INSTAGRAM, REFERRAL, NEW, ...).
type payloadData struct {
	EventID       string  `json:"event_id"`
	Platform      string  `json:"platform"`
	AccountID     string  `json:"account_id"`
	ParticipantID string  `json:"participant_id"`
	Kind          string  `json:"kind"`
	Thread        string  `json:"thread"`
	EventTime     string  `json:"event_time"`
	Ref           string  `json:"ref"`
	Source        string  `json:"source"`
	ReferralType  string  `json:"referral_type"`
	AdID          *string `json:"ad_id"`
}

// rfc3339Millis is RFC 3339 in UTC with the milliseconds events keep.
const rfc3339Millis = "2006-01-02T15:04:05.000Z07:00"

// body returns the webhook body for e, which must carry a referral.
func body(e *event.Event) []byte {
	at := time.UnixMilli(e.EventTime).UTC().Format(rfc3339Millis)
	// Strings only: Marshal cannot fail.
	b, _ := json.Marshal(payload{
		Type:      eventType,
		Timestamp: at,
		Data: payloadData{
			EventID:       e.EventID,
			Platform:      string(e.Platform),
			AccountID:     e.AccountID,
			ParticipantID: e.ParticipantID,
			Kind:          string(e.Kind),
			Thread:        string(e.Thread),
			EventTime:     at,
			Ref:           e.Referral.Ref,
			Source:        e.Referral.Source,
			ReferralType:  e.Referral.Type,
			AdID:          e.Referral.AdID,
		},
	})
	return b
}
