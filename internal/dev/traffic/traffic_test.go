package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

func newPlan(t testing.TB, opts Options) *Plan {
	t.Helper()
	p, err := NewPlan(opts)
	if err != nil {
		t.Fatalf("NewPlan(%+v): %v", opts, err)
	}
	return p
}

// decoded is what the real decoder makes of a plan's webhooks.
type decoded struct {
	events      map[string]event.Event // by event id
	deadLetters map[meta.Reason]int
	skipped     int // in first deliveries only
	perBody     [][]event.Event
}

// decodeAll decodes every webhook with meta.Decode and checks each against
// its planned outcome: a good body decodes whole, a bad one fails with its
// reason. A redelivery's events must equal the original's.
func decodeAll(t *testing.T, ws []Webhook) decoded {
	t.Helper()
	d := decoded{events: map[string]event.Event{}, deadLetters: map[meta.Reason]int{}}
	for i, w := range ws {
		res, err := meta.Decode(w.Body, meta.Source{})
		d.perBody = append(d.perBody, res.Events)
		var got meta.Reason
		var de *meta.DecodeError
		switch {
		case errors.As(err, &de):
			got = de.Reason
		case err != nil:
			t.Fatalf("webhook %d: Decode error %T, want *meta.DecodeError: %v", i, err, err)
		case len(res.Bad) > 0:
			got = res.Bad[0].Reason
		}
		if got != w.DeadLetter {
			t.Errorf("webhook %d: dead-letter reason %q, want %q (bad items %+v)", i, got, w.DeadLetter, res.Bad)
		}
		if got != "" {
			d.deadLetters[got]++
		}
		if res.AccountMismatches != 0 || res.InvalidRefs != 0 {
			t.Errorf("webhook %d: %d account mismatches and %d invalid refs, want none", i, res.AccountMismatches, res.InvalidRefs)
		}
		if !w.Redelivery {
			for _, n := range res.Skipped {
				d.skipped += n
			}
		}
		for _, ev := range res.Events {
			if prev, ok := d.events[ev.EventID]; ok && !cmp.Equal(prev, ev) {
				t.Errorf("webhook %d: event id %s names two events:\n%s", i, ev.EventID, cmp.Diff(prev, ev))
			}
			d.events[ev.EventID] = ev
		}
	}
	return d
}

// factsOf turns decoded events into the facts Expected is computed from.
func factsOf(events map[string]event.Event) []fact {
	facts := make([]fact, 0, len(events))
	for _, ev := range events {
		f := fact{platform: ev.Platform, account: ev.AccountID, participant: ev.ParticipantID, kind: ev.Kind, at: ev.EventTime}
		if ev.Referral != nil {
			f.ref, f.referral = ev.Referral.Ref, true
		}
		facts = append(facts, f)
	}
	return facts
}

// TestPlanAgreesWithDecoder cross-checks Expected, computed from the script,
// against what the real decoder makes of the bytes: distinct events by kind,
// dead letters, skips, and the funnel and attribution recomputed from the
// decoded events.
func TestPlanAgreesWithDecoder(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{name: "defaults", opts: Options{Seed: 1}},
		{name: "other seed", opts: Options{Seed: 42, Participants: 300}},
		{name: "small bodies", opts: Options{Seed: 3, Participants: 200, MaxItemsPerBody: 1}},
		{name: "big bodies and many bad", opts: Options{Seed: 4, Participants: 200, MaxItemsPerBody: 1000, BadPayloads: 7, RedeliveryFraction: 0.5}},
		{name: "no bad, no redeliveries", opts: Options{Seed: 5, Participants: 100, BadPayloads: -1, RedeliveryFraction: -1}},
		{name: "one participant", opts: Options{Seed: 6, Participants: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlan(t, tt.opts)
			ws := p.Webhooks()
			want := p.Expected()
			d := decodeAll(t, ws)

			gotEvents := map[event.Kind]int{event.KindReferral: 0, event.KindMessage: 0, event.KindPostback: 0, event.KindOptin: 0, event.KindEcho: 0}
			for _, ev := range d.events {
				gotEvents[ev.Kind]++
			}
			if diff := cmp.Diff(want.Events, gotEvents); diff != "" {
				t.Errorf("distinct events by kind (-expected +decoded):\n%s", diff)
			}
			if got := len(d.events); got != want.TotalEvents {
				t.Errorf("decoded %d distinct events, Expected.TotalEvents is %d", got, want.TotalEvents)
			}
			if diff := cmp.Diff(want.DeadLetters, d.deadLetters); diff != "" {
				t.Errorf("dead letters by reason (-expected +decoded):\n%s", diff)
			}
			if d.skipped != want.Skipped {
				t.Errorf("decoder skipped %d items in first deliveries, Expected.Skipped is %d", d.skipped, want.Skipped)
			}
			if len(ws) != want.Webhooks {
				t.Errorf("got %d webhooks, Expected.Webhooks is %d", len(ws), want.Webhooks)
			}
			for _, ev := range d.events {
				if ev.EventTime < want.FromMs || ev.EventTime >= want.ToMs {
					t.Errorf("event %s at %d is outside [%d, %d)", ev.EventID, ev.EventTime, want.FromMs, want.ToMs)
				}
			}
			funnel, attribution := funnelAndAttribution(factsOf(d.events))
			if diff := cmp.Diff(want.Funnel, funnel); diff != "" {
				t.Errorf("funnel (-expected +from decoded events):\n%s", diff)
			}
			if diff := cmp.Diff(want.Attribution, attribution); diff != "" {
				t.Errorf("attribution (-expected +from decoded events):\n%s", diff)
			}
		})
	}
}

func TestNewPlanIsDeterministic(t *testing.T) {
	base := Options{Seed: 7, Participants: 200}
	tests := []struct {
		name     string
		other    Options
		wantSame bool
	}{
		{name: "same options", other: base, wantSame: true},
		{name: "other seed", other: Options{Seed: 8, Participants: 200}},
		{name: "other start", other: Options{Seed: 7, Participants: 200, Start: DefaultStart.Add(time.Hour)}},
	}
	a := newPlan(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newPlan(t, tt.other)
			same := slices.EqualFunc(a.Webhooks(), b.Webhooks(), func(x, y Webhook) bool {
				return bytes.Equal(x.Body, y.Body) && x.Redelivery == y.Redelivery && x.DeadLetter == y.DeadLetter
			})
			if same != tt.wantSame {
				t.Errorf("webhooks identical: %v, want %v", same, tt.wantSame)
			}
			if tt.wantSame {
				if diff := cmp.Diff(a.Expected(), b.Expected()); diff != "" {
					t.Errorf("Expected differs for the same options:\n%s", diff)
				}
			}
		})
	}
}

func TestRedeliveriesAreExactCopies(t *testing.T) {
	p := newPlan(t, Options{Seed: 9, Participants: 400, RedeliveryFraction: 0.2})
	ws := p.Webhooks()
	seen := map[string]Webhook{} // first deliveries by body
	redeliveries := 0
	for i, w := range ws {
		orig, ok := seen[string(w.Body)]
		switch {
		case w.Redelivery && !ok:
			t.Errorf("webhook %d is a redelivery of no earlier webhook", i)
		case w.Redelivery && w.DeadLetter != "":
			t.Errorf("webhook %d: bad payload (%s) redelivered", i, w.DeadLetter)
		case w.Redelivery:
			redeliveries++
			if !bytes.Equal(orig.Body, w.Body) {
				t.Errorf("webhook %d: redelivery differs from its original", i)
			}
		case ok:
			t.Errorf("webhook %d repeats an earlier body without being marked a redelivery", i)
		default:
			seen[string(w.Body)] = w
		}
	}
	if want := p.Expected().Redeliveries; redeliveries != want || want == 0 {
		t.Errorf("got %d redeliveries, Expected.Redeliveries is %d (want more than 0)", redeliveries, want)
	}
}

// TestWebhooksAreRealistic checks that the plan exercises every arrival form
// and payload quirk the decoder supports.
func TestWebhooksAreRealistic(t *testing.T) {
	const maxItems = 10
	p := newPlan(t, Options{Seed: 1, MaxItemsPerBody: maxItems})
	ws := p.Webhooks()
	d := decodeAll(t, ws)

	hasRef := func(ev event.Event, kind event.Kind, thread event.Thread) bool {
		return ev.Kind == kind && ev.Referral != nil && ev.Thread == thread
	}
	events := []struct {
		name string
		is   func(event.Event) bool
	}{
		{name: "instagram", is: func(ev event.Event) bool { return ev.Platform == event.Instagram }},
		{name: "messenger", is: func(ev event.Event) bool { return ev.Platform == event.Messenger }},
		{name: "standalone referral, existing thread", is: func(ev event.Event) bool { return hasRef(ev, event.KindReferral, event.ThreadExisting) }},
		{name: "first message with referral, new thread", is: func(ev event.Event) bool { return hasRef(ev, event.KindMessage, event.ThreadNew) }},
		{name: "icebreaker with referral", is: func(ev event.Event) bool {
			return hasRef(ev, event.KindPostback, event.ThreadNew) && ev.Platform == event.Instagram
		}},
		{name: "get started with referral", is: func(ev event.Event) bool {
			return hasRef(ev, event.KindPostback, event.ThreadNew) && ev.Platform == event.Messenger && *ev.PostbackPayload == "GET_STARTED"
		}},
		{name: "opt-in with ref", is: func(ev event.Event) bool { return ev.Kind == event.KindOptin && ev.Referral != nil }},
		{name: "ad referral", is: func(ev event.Event) bool {
			return ev.Referral != nil && ev.Referral.Source == "ADS" && ev.Referral.AdID != nil && ev.Referral.AdsContext != nil
		}},
		{name: "chat plugin referral", is: func(ev event.Event) bool {
			return ev.Referral != nil && ev.Referral.Source == "CUSTOMER_CHAT_PLUGIN" && ev.Referral.RefererURI != nil
		}},
		{name: "chat plugin guest", is: func(ev event.Event) bool { return strings.HasPrefix(ev.ParticipantID, "guest-") }},
		{name: "both ig.me source spellings", is: func(ev event.Event) bool {
			return ev.Platform == event.Instagram && ev.Referral != nil && ev.Referral.Source == "SHORTLINK"
		}},
		{name: "plain message", is: func(ev event.Event) bool { return ev.Kind == event.KindMessage && ev.Referral == nil }},
		{name: "plain postback", is: func(ev event.Event) bool { return ev.Kind == event.KindPostback && ev.Referral == nil }},
		{name: "echo", is: func(ev event.Event) bool { return ev.Kind == event.KindEcho }},
	}
	for _, tt := range events {
		t.Run(tt.name, func(t *testing.T) {
			for _, ev := range d.events {
				if tt.is(ev) {
					return
				}
			}
			t.Error("no such event in the plan")
		})
	}

	bodies := []struct {
		name  string
		match *regexp.Regexp
	}{
		{name: "timestamp in seconds", match: regexp.MustCompile(`"timestamp":\d{10}[,}]`)},
		{name: "timestamp as ms string", match: regexp.MustCompile(`"timestamp":"\d{13}"`)},
		{name: "timestamp as seconds string", match: regexp.MustCompile(`"timestamp":"\d{10}"`)},
		{name: "read", match: regexp.MustCompile(`"read":\{`)},
		{name: "delivery", match: regexp.MustCompile(`"delivery":\{`)},
		{name: "attachment", match: regexp.MustCompile(`"attachments":\[`)},
		{name: "escaped non-ASCII text", match: regexp.MustCompile(`\\u2764`)},
		{name: "several entries", match: regexp.MustCompile(`"messaging":\[.*"messaging":\[`)},
	}
	for _, tt := range bodies {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range ws {
				if tt.match.Match(w.Body) {
					return
				}
			}
			t.Errorf("no body matches %s", tt.match)
		})
	}

	t.Run("items per body", func(t *testing.T) {
		most := 0
		for i, w := range ws {
			var env struct {
				Entry []struct {
					Messaging []json.RawMessage `json:"messaging"`
				} `json:"entry"`
			}
			if json.Unmarshal(w.Body, &env) != nil {
				continue // the invalid JSON one
			}
			n := 0
			for _, e := range env.Entry {
				n += len(e.Messaging)
			}
			if n > maxItems {
				t.Errorf("webhook %d has %d items, want at most %d", i, n, maxItems)
			}
			most = max(most, n)
		}
		if most < 2 {
			t.Errorf("largest body has %d items, want several", most)
		}
	})

	t.Run("slightly out of order", func(t *testing.T) {
		swaps, prev := 0, int64(0)
		for i, evs := range d.perBody {
			if len(evs) == 0 || ws[i].Redelivery {
				continue
			}
			first := evs[0].EventTime
			for _, ev := range evs {
				first = min(first, ev.EventTime)
			}
			if first < prev {
				swaps++
			}
			prev = first
		}
		if swaps == 0 {
			t.Error("bodies arrive in perfect time order, want a few swapped")
		}
	})
}

func TestFunnelSanity(t *testing.T) {
	e := newPlan(t, Options{Seed: 11, Participants: 4000}).Expected()
	rates := map[string]float64{}
	for _, r := range e.FunnelByRef() {
		t.Run(r.Ref, func(t *testing.T) {
			if r.Referrals != r.Participants {
				t.Errorf("referrals %d, participants %d: want one referral per participant and ref", r.Referrals, r.Participants)
			}
			if !(r.Referrals >= r.Conversed && r.Conversed >= r.Answered && r.Answered >= r.Returned && r.Returned > 0) {
				t.Errorf("funnel %+v does not narrow from referrals to a positive returned", r)
			}
		})
		rates[r.Ref] = float64(r.Conversed) / float64(r.Referrals)
	}
	if got, want := len(rates), len(campaigns); got != want {
		t.Errorf("funnel has %d refs, want %d", got, want)
	}
	if hi, lo := rates["packaging_insert"], rates["newsletter_nov"]; hi-lo < 0.3 {
		t.Errorf("conversion packaging_insert %.2f, newsletter_nov %.2f: want campaigns to differ clearly", hi, lo)
	}

	first, last, differ := 0, 0, false
	for _, r := range e.AttributionByRef() {
		first += r.FirstTouch
		last += r.LastTouch
		differ = differ || r.FirstTouch != r.LastTouch
		if r.Ref == "" {
			t.Errorf("%d conversations credited to no ref, want every conversation referred", r.FirstTouch)
		}
	}
	if first != last {
		t.Errorf("first touch credits %d conversations, last touch %d: want equal sums", first, last)
	}
	if !differ {
		t.Error("first and last touch agree on every ref, want second referrals to move some credit")
	}
}

// TestFunnelAndAttributionRules pins the rules on FunnelRow and
// AttributionRow, which the SQL queries must share.
func TestFunnelAndAttributionRules(t *testing.T) {
	const ig = event.Instagram
	ev := func(kind event.Kind, at int64, ref string) fact {
		return fact{platform: ig, account: "a", participant: "p", kind: kind, at: at, ref: ref, referral: ref != ""}
	}
	funnelRow := func(ref string, referrals, conversed, answered, returned int) FunnelRow {
		return FunnelRow{Platform: ig, AccountID: "a", Ref: ref, Referrals: referrals, Participants: referrals, Conversed: conversed, Answered: answered, Returned: returned}
	}
	attributionRow := func(ref string, first, last int) AttributionRow {
		return AttributionRow{Platform: ig, AccountID: "a", Ref: ref, FirstTouch: first, LastTouch: last}
	}
	const (
		msg  = event.KindMessage
		pb   = event.KindPostback
		ref  = event.KindReferral
		opt  = event.KindOptin
		echo = event.KindEcho
	)
	tests := []struct {
		name            string
		facts           []fact
		wantFunnel      []FunnelRow
		wantAttribution []AttributionRow
	}{
		{
			name:            "a first message carrying the referral has conversed",
			facts:           []fact{ev(msg, 0, "x")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 0, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 1, 1)},
		},
		{
			name:            "a postback carrying the referral has conversed, an echo at 24h answers",
			facts:           []fact{ev(pb, 0, "x"), ev(echo, day, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 1, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 1, 1)},
		},
		{
			name:       "an opt-in alone has not conversed",
			facts:      []fact{ev(opt, 0, "x")},
			wantFunnel: []FunnelRow{funnelRow("x", 1, 0, 0, 0)},
		},
		{
			name:            "a message at exactly 24h converses, 1ms later does not",
			facts:           []fact{ev(ref, 0, "x"), ev(msg, day, ""), ev(ref, 10*day, "y"), ev(msg, 11*day+1, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 0, 0), funnelRow("y", 1, 0, 0, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 2, 1), attributionRow("y", 0, 1)},
		},
		{
			name:       "an echo to someone who never wrote does not answer",
			facts:      []fact{ev(ref, 0, "x"), ev(echo, minute, "")},
			wantFunnel: []FunnelRow{funnelRow("x", 1, 0, 0, 0)},
		},
		{
			name:            "a return needs an answer",
			facts:           []fact{ev(ref, 0, "x"), ev(msg, hour, ""), ev(msg, 3*day, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 0, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 2, 2)},
		},
		{
			name:            "full funnel, return at exactly 7 days",
			facts:           []fact{ev(ref, 0, "x"), ev(msg, hour, ""), ev(echo, 2*hour, ""), ev(msg, 7*day, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 1, 1)},
			wantAttribution: []AttributionRow{attributionRow("x", 2, 2)},
		},
		{
			name:            "a message after 7 days is no return",
			facts:           []fact{ev(ref, 0, "x"), ev(msg, hour, ""), ev(echo, 2*hour, ""), ev(msg, 7*day+1, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 1, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 2, 2)},
		},
		{
			name:            "a late reply does not answer",
			facts:           []fact{ev(ref, 0, "x"), ev(msg, hour, ""), ev(echo, day+1, "")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 0, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 1, 1)},
		},
		{
			name: "a second referral's conversation is credited first touch to the first ref",
			facts: []fact{
				ev(msg, 0, "x"), ev(echo, hour, ""),
				ev(ref, 3*day, "y"), ev(msg, 3*day+hour, ""), ev(echo, 3*day+2*hour, ""),
			},
			// The message after y returns for x too: windows look at all the
			// person's events.
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 1, 1, 1), funnelRow("y", 1, 1, 1, 0)},
			wantAttribution: []AttributionRow{attributionRow("x", 2, 1), attributionRow("y", 0, 1)},
		},
		{
			name:            "a conversation before any referral is credited to no ref",
			facts:           []fact{ev(msg, 0, ""), ev(ref, 2*day, "x")},
			wantFunnel:      []FunnelRow{funnelRow("x", 1, 0, 0, 0)},
			wantAttribution: []AttributionRow{attributionRow("", 1, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			funnel, attribution := funnelAndAttribution(tt.facts)
			if diff := cmp.Diff(tt.wantFunnel, funnel, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("funnel (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAttribution, attribution, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("attribution (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewPlanRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "negative participants", opts: Options{Participants: -1}, wantErr: "participants is -1"},
		{name: "negative span", opts: Options{Span: -time.Hour}, wantErr: "span is -1h0m0s"},
		{name: "too many items per body", opts: Options{MaxItemsPerBody: 1001}, wantErr: "max items per body is 1001"},
		{name: "redelivery fraction above 1", opts: Options{RedeliveryFraction: 1.5}, wantErr: "redelivery fraction is 1.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewPlan error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// BenchmarkPlan plans and renders about 100,000 events per op.
func BenchmarkPlan(b *testing.B) {
	events := 0
	for b.Loop() {
		p, err := NewPlan(Options{Seed: 1, Participants: 36_000})
		if err != nil {
			b.Fatal(err)
		}
		events = p.Expected().TotalEvents
	}
	b.ReportMetric(float64(events), "events/op")
}
