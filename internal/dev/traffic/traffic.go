// Package traffic plans demo traffic for reftrail: correctly shaped Meta
// webhooks for Instagram and Messenger, and what the pipeline must make of
// them.
//
// A Plan scripts a story for each participant (a referral in one of its
// arrival forms, then maybe messages, business replies, a return visit, a
// second referral from another campaign, reads and deliveries), batches the
// items into webhook bodies as Meta does (several entries and items per body,
// slightly out of order, some bodies redelivered byte for byte), adds a known
// number of bad payloads, and computes Expected from the script itself, not by
// running the decoder, so that tests of enrich, sink and the SQL queries have
// an independent answer to compare with.
//
// Planning is pure and deterministic: the same Options give the same bytes.
// It reads no clock (Options.Start is the base time) and no global random
// source (a PCG seeded from Options.Seed).
package traffic

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// DefaultStart is the base time when Options.Start is zero: fixed, so that a
// plan without a Start is reproducible too.
var DefaultStart = time.Date(2025, time.November, 3, 0, 0, 0, 0, time.UTC)

// Defaults for zero Options fields.
const (
	DefaultParticipants       = 500
	DefaultSpan               = 7 * 24 * time.Hour
	DefaultMaxItemsPerBody    = 25
	DefaultRedeliveryFraction = 0.05
	DefaultBadPayloads        = 3
)

// Options select a plan. Zero fields take the defaults above.
type Options struct {
	// Seed selects the plan: every random choice comes from it.
	Seed uint64
	// Participants is how many people get a story. Default 500. A story
	// averages about three events and three and a half items.
	Participants int
	// Start is the base time: first referrals fall in [Start, Start+Span),
	// everything else after them (up to three weeks after Start+Span).
	// Default DefaultStart. Times are kept to the millisecond.
	Start time.Time
	// Span is the period over which first referrals are spread. Default 7 days.
	Span time.Duration
	// MaxItemsPerBody caps the messaging items in one POST body. Default 25;
	// Meta batches up to 1,000. A body also closes when its items span more
	// than an hour, so sparse traffic gives small bodies, as Meta's does.
	MaxItemsPerBody int
	// RedeliveryFraction is the share of bodies delivered a second time, as
	// exact copies, a little later. Default 0.05; negative for none. Bad
	// payloads are never redelivered (see Expected.DeadLetters).
	RedeliveryFraction float64
	// BadPayloads is how many bodies are bad on purpose, cycling through
	// invalid JSON, a body that is not a Meta envelope, and a body with one
	// item missing its sender among good ones. Default 3 (one of each);
	// negative for none.
	BadPayloads int
}

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Participants == 0 {
		o.Participants = DefaultParticipants
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.Span == 0 {
		o.Span = DefaultSpan
	}
	if o.MaxItemsPerBody == 0 {
		o.MaxItemsPerBody = DefaultMaxItemsPerBody
	}
	switch {
	case o.RedeliveryFraction == 0:
		o.RedeliveryFraction = DefaultRedeliveryFraction
	case o.RedeliveryFraction < 0:
		o.RedeliveryFraction = 0
	}
	switch {
	case o.BadPayloads == 0:
		o.BadPayloads = DefaultBadPayloads
	case o.BadPayloads < 0:
		o.BadPayloads = 0
	}
	var errs []error
	if o.Participants < 0 {
		errs = append(errs, fmt.Errorf("participants is %d, want at least 1", o.Participants))
	}
	if o.Span < time.Millisecond {
		errs = append(errs, fmt.Errorf("span is %v, want at least 1ms", o.Span))
	}
	if o.MaxItemsPerBody < 0 || o.MaxItemsPerBody > 1000 {
		errs = append(errs, fmt.Errorf("max items per body is %d, want 1 to 1000 (Meta's limit)", o.MaxItemsPerBody))
	}
	if o.RedeliveryFraction > 1 {
		errs = append(errs, fmt.Errorf("redelivery fraction is %v, want at most 1", o.RedeliveryFraction))
	}
	return o, errors.Join(errs...)
}

// Webhook is one POST as Meta would send it.
type Webhook struct {
	// Body is the exact bytes to send and sign. Shared with the Plan and
	// with its redeliveries: do not modify.
	Body []byte
	// Redelivery marks an exact copy of an earlier body.
	Redelivery bool
	// DeadLetter is the reason enrich must dead-letter this body with, or
	// empty for a good body. A body with an item missing its sender still
	// yields its good items' events.
	DeadLetter meta.Reason
}

// Plan is a scripted run of demo traffic. Build it with NewPlan; it is
// immutable afterwards and safe for concurrent use.
type Plan struct {
	opts     Options
	people   []person
	items    []item // each person's items together, in time order
	webhooks []Webhook
	expected Expected
}

// NewPlan scripts, batches and renders the traffic for opts, and computes
// Expected. It is fast enough for benchmarks to build large runs: about
// 100,000 events (36,000 participants) in well under a second (BenchmarkPlan).
func NewPlan(opts Options) (*Plan, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("planning demo traffic: %w", err)
	}
	p := &Plan{opts: opts}
	rng := rand.New(rand.NewPCG(opts.Seed, pcgStream))
	g := newGenerator(rng, opts)
	for i := range opts.Participants {
		g.story(int32(i))
	}
	p.people, p.items = g.people, g.items
	b := newBatcher(rng, opts, p.people, p.items, g.salt)
	p.webhooks = b.webhooks()
	p.expected = p.tally(b)
	return p, nil
}

// pcgStream is the PCG's second seed word: fixed, so Options.Seed alone
// selects the plan.
const pcgStream = 0x72656674726169 // "reftrai"

// Webhooks returns every POST in delivery order: good bodies roughly in time
// order with a few neighbours swapped (Meta does not guarantee order),
// redeliveries a few positions after their original, and the bad payloads
// mixed in. The bodies are shared: do not modify them.
func (p *Plan) Webhooks() []Webhook { return slices.Clone(p.webhooks) }

// Expected returns what the pipeline must end up with after every webhook was
// delivered; see Expected for the exact rules.
func (p *Plan) Expected() Expected { return p.expected.clone() }

// person is one participant: a person on one business account.
type person struct {
	platform event.Platform
	account  string
	// id is the PSID or IGSID, or for a chat-plugin guest the user_ref.
	id    string
	guest bool
}
