package traffic

import (
	"cmp"
	"maps"
	"slices"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// Expected is what the pipeline must end up with once every webhook of a Plan
// was delivered at least once, computed from the script, not by decoding.
//
// Funnel and Attribution follow schemas/clickhouse/queries/funnel.sql and
// attribution.sql run with from_ms = FromMs and to_ms = ToMs; the rules are
// on FunnelRow and AttributionRow. Two properties of every plan make them
// simple to state: a participant is referred at most once by each ref (a
// second referral always comes from another campaign), and no two events of
// one participant share a millisecond, so no rule ever breaks a tie by
// event_id.
type Expected struct {
	Seed         uint64 `json:"seed"`
	Participants int    `json:"participants"`
	// FromMs and ToMs bound every event of the plan: FromMs <= event_time <
	// ToMs (Unix ms).
	FromMs int64 `json:"from_ms"`
	ToMs   int64 `json:"to_ms"`
	// Webhooks counts POST bodies: redeliveries and bad payloads included.
	Webhooks     int `json:"webhooks"`
	Redeliveries int `json:"redeliveries"`
	// Events counts distinct events (distinct event_id) by kind, every kind
	// present. Reads and deliveries make none; an echo makes an ECHO; a
	// message or postback carrying a referral makes one MESSAGE or POSTBACK
	// event holding it; an opt-in one OPTIN. Redeliveries add none.
	Events      map[event.Kind]int `json:"events"`
	TotalEvents int                `json:"total_events"`
	// Skipped counts the items reftrail does not model (reads, deliveries),
	// once each; a redelivered body has enrich count its skips again.
	Skipped int `json:"skipped"`
	// DeadLetters counts DLQ records by reason: one per bad body, since bad
	// bodies are never redelivered. A body with a senderless item among good
	// ones is dead-lettered once (missing_sender) and its good items still
	// count in Events. Hazard: a sender's retry of a bad body after an ingest
	// 503 whose record reached Kafka anyway is a second raw record, and so a
	// second dead letter.
	DeadLetters      map[meta.Reason]int `json:"dead_letters"`
	TotalDeadLetters int                 `json:"total_dead_letters"`
	// Funnel and Attribution have one row per (platform, account, ref),
	// sorted by platform, account and ref, as the queries' results.
	Funnel      []FunnelRow      `json:"funnel"`
	Attribution []AttributionRow `json:"attribution"`
}

// FunnelRow is the campaign funnel of one ref on one account (funnel.sql).
// Each event carrying a referral (a standalone REFERRAL, or a MESSAGE,
// POSTBACK or OPTIN with a referral) enters the funnel once, and each stage
// needs the one before. Times are Unix ms, windows include both ends:
//   - Referrals: the referral events. Participants: the distinct people
//     among them, equal to Referrals in a plan (one referral per person and
//     ref).
//   - Conversed: a MESSAGE or POSTBACK from the person within 24 h after the
//     referral, t in [r, r+24h]. The referral's own event counts: a first
//     message or an Icebreaker/Get Started tap carrying the ref is the
//     person writing. An OPTIN or a standalone REFERRAL does not.
//   - Answered: conversed, and an ECHO (a business reply) in [r, r+24h]. An
//     automated greeting to someone who never wrote does not count.
//   - Returned: answered, and a MESSAGE from the person in (r+24h, r+7d].
//
// Events of the person from a later referral count for an earlier one too:
// the windows look at all the person's events on that account.
type FunnelRow struct {
	Platform     event.Platform `json:"platform,omitempty"`
	AccountID    string         `json:"account_id,omitempty"`
	Ref          string         `json:"ref"`
	Referrals    int            `json:"referrals"`
	Participants int            `json:"participants"`
	Conversed    int            `json:"conversed"`
	Answered     int            `json:"answered"`
	Returned     int            `json:"returned"`
}

// AttributionRow credits new conversations to a ref (attribution.sql). A new
// conversation starts with a MESSAGE or POSTBACK from the person that no
// other MESSAGE or POSTBACK of theirs precedes by 24 h or less; a person can
// start several (a return after a quiet day is a new one). FirstTouch counts
// the starts whose earliest referral at or before the start (the start's own
// referral included) has this ref, LastTouch those whose latest one does. A
// start without any referral before it would be credited to ref "", which a
// plan never produces. Each column sums to the number of new conversations.
type AttributionRow struct {
	Platform   event.Platform `json:"platform,omitempty"`
	AccountID  string         `json:"account_id,omitempty"`
	Ref        string         `json:"ref"`
	FirstTouch int            `json:"first_touch"`
	LastTouch  int            `json:"last_touch"`
}

// FunnelByRef sums the funnel over platforms and accounts: one row per ref,
// sorted by ref, Platform and AccountID empty. Participant ids are scoped to
// an account, so the sum of Participants is still distinct people.
func (e *Expected) FunnelByRef() []FunnelRow {
	var rows []FunnelRow
	for _, r := range e.Funnel {
		i := rowFor(&rows, r.Ref, func(x FunnelRow) string { return x.Ref }, FunnelRow{Ref: r.Ref})
		rows[i].Referrals += r.Referrals
		rows[i].Participants += r.Participants
		rows[i].Conversed += r.Conversed
		rows[i].Answered += r.Answered
		rows[i].Returned += r.Returned
	}
	return rows
}

// AttributionByRef sums attribution over platforms and accounts: one row per
// ref, sorted by ref, Platform and AccountID empty.
func (e *Expected) AttributionByRef() []AttributionRow {
	var rows []AttributionRow
	for _, r := range e.Attribution {
		i := rowFor(&rows, r.Ref, func(x AttributionRow) string { return x.Ref }, AttributionRow{Ref: r.Ref})
		rows[i].FirstTouch += r.FirstTouch
		rows[i].LastTouch += r.LastTouch
	}
	return rows
}

// rowFor returns the index of the row with key in rows, sorted by key,
// inserting zero when there is none.
func rowFor[R any](rows *[]R, key string, keyOf func(R) string, zero R) int {
	i, found := slices.BinarySearchFunc(*rows, key, func(r R, k string) int { return cmp.Compare(keyOf(r), k) })
	if !found {
		*rows = slices.Insert(*rows, i, zero)
	}
	return i
}

func (e Expected) clone() Expected {
	e.Events = maps.Clone(e.Events)
	e.DeadLetters = maps.Clone(e.DeadLetters)
	e.Funnel = slices.Clone(e.Funnel)
	e.Attribution = slices.Clone(e.Attribution)
	return e
}

// tally computes Expected from the script and the batching.
func (p *Plan) tally(b *batcher) Expected {
	e := Expected{
		Seed:         p.opts.Seed,
		Participants: len(p.people),
		FromMs:       p.opts.Start.UnixMilli(),
		ToMs:         p.opts.Start.UnixMilli(),
		Webhooks:     len(p.webhooks),
		Redeliveries: b.redeliveries,
		Events: map[event.Kind]int{
			event.KindReferral: 0, event.KindMessage: 0, event.KindPostback: 0, event.KindOptin: 0, event.KindEcho: 0,
		},
		DeadLetters: maps.Clone(b.deadLetters),
	}
	facts := make([]fact, 0, len(p.items))
	for i := range p.items {
		it := &p.items[i]
		e.ToMs = max(e.ToMs, it.at+1)
		kind := it.kind.eventKind()
		if kind == "" {
			e.Skipped++
			continue
		}
		e.Events[kind]++
		e.TotalEvents++
		who := &p.people[it.person]
		f := fact{platform: who.platform, account: who.account, participant: who.id, kind: kind, at: it.at}
		if it.campaign >= 0 {
			f.ref, f.referral = campaigns[it.campaign].ref, true
		}
		facts = append(facts, f)
	}
	for _, n := range e.DeadLetters {
		e.TotalDeadLetters += n
	}
	e.Funnel, e.Attribution = funnelAndAttribution(facts)
	return e
}

// fact is what the funnel and attribution rules read of one event.
type fact struct {
	platform    event.Platform
	account     string
	participant string
	kind        event.Kind
	at          int64 // Unix ms
	ref         string
	referral    bool // the event carries a referral
}

// rowKey identifies a FunnelRow or AttributionRow.
type rowKey struct {
	platform event.Platform
	account  string
	ref      string
}

func (k rowKey) compare(o rowKey) int {
	return cmp.Or(cmp.Compare(k.platform, o.platform), cmp.Compare(k.account, o.account), cmp.Compare(k.ref, o.ref))
}

// funnelAndAttribution applies the rules of FunnelRow and AttributionRow to
// distinct events, sorting facts. It relies on no two events of a participant
// sharing a millisecond.
func funnelAndAttribution(facts []fact) ([]FunnelRow, []AttributionRow) {
	slices.SortFunc(facts, func(x, y fact) int {
		return cmp.Or(
			cmp.Compare(x.platform, y.platform),
			cmp.Compare(x.account, y.account),
			cmp.Compare(x.participant, y.participant),
			cmp.Compare(x.at, y.at),
		)
	})
	funnel := map[rowKey]*FunnelRow{}
	attribution := map[rowKey]*AttributionRow{}
	credit := func(k rowKey) *AttributionRow {
		a := attribution[k]
		if a == nil {
			a = &AttributionRow{Platform: k.platform, AccountID: k.account, Ref: k.ref}
			attribution[k] = a
		}
		return a
	}
	var seenRefs []string
	for start := 0; start < len(facts); {
		end := start + 1
		for end < len(facts) && facts[end].platform == facts[start].platform &&
			facts[end].account == facts[start].account && facts[end].participant == facts[start].participant {
			end++
		}
		person := facts[start:end]
		start = end

		seenRefs = seenRefs[:0]
		for _, r := range person {
			if !r.referral {
				continue
			}
			k := rowKey{r.platform, r.account, r.ref}
			row := funnel[k]
			if row == nil {
				row = &FunnelRow{Platform: r.platform, AccountID: r.account, Ref: r.ref}
				funnel[k] = row
			}
			row.Referrals++
			if !slices.Contains(seenRefs, r.ref) {
				seenRefs = append(seenRefs, r.ref)
				row.Participants++
			}
			var conversed, answered, returned bool
			for _, f := range person {
				within := f.at >= r.at && f.at <= r.at+day
				conversed = conversed || within && (f.kind == event.KindMessage || f.kind == event.KindPostback)
				answered = answered || within && f.kind == event.KindEcho
				returned = returned || f.kind == event.KindMessage && f.at > r.at+day && f.at <= r.at+7*day
			}
			if conversed {
				row.Conversed++
				if answered {
					row.Answered++
					if returned {
						row.Returned++
					}
				}
			}
		}

		lastTalk := int64(-1) // time of the person's previous MESSAGE or POSTBACK
		for i, f := range person {
			if f.kind != event.KindMessage && f.kind != event.KindPostback {
				continue
			}
			isStart := lastTalk < 0 || f.at-lastTalk > day
			lastTalk = f.at
			if !isStart {
				continue
			}
			// person is in time order: the first referral up to and including
			// the start is the first touch, the last one the last touch.
			firstRef, lastRef, found := "", "", false
			for _, r := range person[:i+1] {
				if r.referral {
					if !found {
						firstRef, found = r.ref, true
					}
					lastRef = r.ref
				}
			}
			credit(rowKey{f.platform, f.account, firstRef}).FirstTouch++
			credit(rowKey{f.platform, f.account, lastRef}).LastTouch++
		}
	}
	return sortedRows(funnel), sortedRows(attribution)
}

// sortedRows returns the rows of m sorted by key.
func sortedRows[R any](m map[rowKey]*R) []R {
	keys := slices.SortedFunc(maps.Keys(m), rowKey.compare)
	rows := make([]R, len(keys))
	for i, k := range keys {
		rows[i] = *m[k]
	}
	return rows
}
