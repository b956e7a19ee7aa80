package traffic

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/reftrail/reftrail/internal/event"
)

// Durations in Unix milliseconds, the unit of item times.
const (
	second int64 = 1000
	minute       = 60 * second
	hour         = 60 * minute
	day          = 24 * hour
)

// Shares of the script that do not depend on the campaign.
const (
	// secondTouchShare of participants (not guests) come back through a
	// second referral from another campaign, one to ten days later: the case
	// where first-touch and last-touch attribution differ.
	secondTouchShare = 0.15
	// guestShare of chat-plugin participants are guests, known only by a
	// user_ref.
	guestShare = 0.4
	// greetingShare of referrals without a conversation still get an
	// automated greeting (an echo) from the business.
	greetingShare = 0.1
	// lateReplyShare of business replies come more than a day after the
	// referral, outside the 24-hour window.
	lateReplyShare = 0.1
	// lateReturnShare of conversations get a message more than 7 days after
	// the referral, too late to count as a return.
	lateReturnShare = 0.05
	// readShare of replies are read by the person; on Messenger
	// deliveryShare get a delivery receipt first.
	readShare     = 0.5
	deliveryShare = 0.6
)

// itemKind is what a messaging item holds.
type itemKind uint8

const (
	kindReferral itemKind = iota // standalone referral
	kindMessage
	kindPostback
	kindOptin
	kindEcho
	kindRead     // not modelled: no event
	kindDelivery // not modelled: no event
)

// eventKind is the event the decoder makes of an item, or "" for none.
func (k itemKind) eventKind() event.Kind {
	switch k {
	case kindReferral:
		return event.KindReferral
	case kindMessage:
		return event.KindMessage
	case kindPostback:
		return event.KindPostback
	case kindOptin:
		return event.KindOptin
	case kindEcho:
		return event.KindEcho
	}
	return ""
}

// tsForm is how an item's timestamp is written. Meta sends milliseconds
// mostly, seconds in some Instagram payloads, and numbers as strings in some
// newer ones; the decoder normalises by magnitude.
type tsForm uint8

const (
	tsMillis tsForm = iota
	tsSeconds
	tsMillisString
	tsSecondsString
)

func (f tsForm) inSeconds() bool { return f == tsSeconds || f == tsSecondsString }

// carrierKinds is the item each carrier is.
var carrierKinds = [...]itemKind{
	carrierStandalone: kindReferral,
	carrierPostback:   kindPostback,
	carrierMessage:    kindMessage,
	carrierOptin:      kindOptin,
}

// item is one scripted messaging item.
type item struct {
	// at is the Unix ms time the decoder will read: whole seconds when the
	// timestamp is written in seconds.
	at       int64
	seq      int32 // creation order, unique in the plan: the source of the mid
	person   int32 // index into Plan.people
	kind     itemKind
	ts       tsForm
	campaign int8  // index into campaigns, -1 when the item carries no referral
	variant  uint8 // picks a text, an icebreaker, a page, a source spelling
	// attachment marks a message that is a photo rather than text.
	attachment bool
	// target is, for reads and deliveries, the seq of the echo acknowledged.
	target int32
}

// generator writes the participants' stories.
type generator struct {
	rng        *rand.Rand
	start      int64 // Unix ms
	span       int64 // ms
	people     []person
	items      []item
	nextSeq    int32
	idBase     uint64
	salt       uint64 // makes mids differ between seeds
	instagramW int    // total campaign weight on Instagram
	messengerW int
}

func newGenerator(rng *rand.Rand, opts Options) *generator {
	g := &generator{
		rng:    rng,
		start:  opts.Start.UnixMilli(),
		span:   max(opts.Span.Milliseconds(), 1),
		people: make([]person, 0, opts.Participants),
		items:  make([]item, 0, opts.Participants*4),
		// Ids start at a seed-dependent offset so that runs with different
		// seeds against one database do not share participants.
		idBase: rng.Uint64N(idSpace),
		salt:   rng.Uint64(),
	}
	for i := range campaigns {
		if campaigns[i].instagram {
			g.instagramW += campaigns[i].weight
		}
		if campaigns[i].messenger {
			g.messengerW += campaigns[i].weight
		}
	}
	return g
}

// idSpace is the range of the numeric part of participant ids: 15 digits
// after a platform digit, the shape of PSIDs and IGSIDs.
const idSpace = 1_000_000_000_000_000

// story scripts participant i: a first referral, what follows it, and maybe a
// second referral from another campaign.
func (g *generator) story(i int32) {
	p := person{platform: event.Messenger}
	if g.rng.Float64() < instagramShare {
		p.platform = event.Instagram
		p.account = instagramAccounts[g.rng.IntN(len(instagramAccounts))]
	} else {
		p.account = messengerPages[g.rng.IntN(len(messengerPages))]
	}
	n := (g.idBase + uint64(i)) % idSpace
	first := g.pickCampaign(p.platform, -1)
	switch {
	case campaigns[first].source == sourceChatPlugin && g.rng.Float64() < guestShare:
		p.guest = true
		p.id = "guest-" + strconv.FormatUint(n, 36)
	case p.platform == event.Instagram:
		p.id = strconv.FormatUint(idSpace+n, 10)
	default:
		p.id = strconv.FormatUint(2*idSpace+n, 10)
	}
	g.people = append(g.people, p)

	begin := len(g.items)
	t0 := g.start + g.rng.Int64N(g.span)
	g.touch(i, first, t0, true)
	// A guest has no PSID that another link could reach.
	if !p.guest && g.rng.Float64() < secondTouchShare {
		g.touch(i, g.pickCampaign(p.platform, first), t0+g.between(day, 10*day), false)
	}
	order(g.items[begin:])
}

// pickCampaign draws a campaign running on platform, by weight, other than
// exclude.
func (g *generator) pickCampaign(platform event.Platform, exclude int) int {
	total := g.messengerW
	if platform == event.Instagram {
		total = g.instagramW
	}
	if exclude >= 0 {
		total -= campaigns[exclude].weight
	}
	n := g.rng.IntN(total)
	for i := range campaigns {
		c := &campaigns[i]
		if i == exclude || !c.runsOn(platform) {
			continue
		}
		if n < c.weight {
			return i
		}
		n -= c.weight
	}
	panic("unreachable: campaign weights do not add up")
}

// touch scripts one referral from campaign ci at time t and what follows it.
// first is false for a second referral, which finds the thread existing.
//
// Only a referral followed by a conversation may arrive in a first message or
// postback: Meta tells a business about a new thread only when the person
// writes or taps in it.
func (g *generator) touch(pi int32, ci int, t int64, first bool) {
	c := &campaigns[ci]
	conversed := g.rng.Float64() < c.converse
	car := carrierStandalone
	if conversed && first {
		car = c.carriers[g.rng.IntN(len(c.carriers))]
	} else if slices.Contains(c.carriers, carrierOptin) && g.rng.IntN(2) == 0 {
		car = carrierOptin
	}
	g.add(pi, carrierKinds[car], t, ci)
	if !conversed {
		if g.rng.Float64() < greetingShare {
			g.reply(pi, t+g.between(5*second, minute))
		}
		return
	}

	now := t
	if !car.opensThread() {
		now += g.between(30*second, 2*hour)
		g.add(pi, kindMessage, now, -1)
	}
	for range g.rng.IntN(3) {
		now += g.between(minute, 30*minute)
		kind := kindMessage
		if g.rng.IntN(10) == 0 {
			kind = kindPostback
		}
		g.add(pi, kind, now, -1)
	}
	if g.rng.Float64() < c.answer {
		at := now + g.between(minute, 6*hour)
		if g.rng.Float64() < lateReplyShare {
			at = t + day + g.between(hour, 2*day)
		}
		g.reply(pi, at)
	}
	switch r := g.rng.Float64(); {
	case r < c.comeBack:
		g.add(pi, kindMessage, t+day+g.between(hour, 6*day-hour), -1)
	case r < c.comeBack+lateReturnShare:
		g.add(pi, kindMessage, t+7*day+g.between(hour, 3*day), -1)
	}
}

// reply scripts a business reply (an echo) at time at, and the person's
// delivery receipt and read that may follow it.
func (g *generator) reply(pi int32, at int64) {
	echo := g.add(pi, kindEcho, at, -1)
	if g.people[pi].guest || g.rng.Float64() >= readShare {
		return
	}
	if g.people[pi].platform == event.Messenger && g.rng.Float64() < deliveryShare {
		at += g.between(second, 10*second)
		g.items[g.add(pi, kindDelivery, at, -1)].target = g.items[echo].seq
	}
	g.items[g.add(pi, kindRead, at+g.between(minute, hour), -1)].target = g.items[echo].seq
}

// add appends an item and returns its index. It picks how the timestamp is
// written and, for seconds, truncates the time the way the decoder will read
// it, so that Expected sees what the pipeline sees.
func (g *generator) add(pi int32, kind itemKind, at int64, ci int) int {
	ts := tsMillis
	r := g.rng.Float64()
	if g.people[pi].platform == event.Instagram {
		switch {
		case r < 0.10:
			ts = tsSeconds
		case r < 0.13:
			ts = tsSecondsString
		case r < 0.16:
			ts = tsMillisString
		}
	} else if r < 0.03 {
		ts = tsMillisString
	}
	if ts.inSeconds() {
		at -= at % second
	}
	it := item{
		at:       at,
		seq:      g.nextSeq,
		person:   pi,
		kind:     kind,
		ts:       ts,
		campaign: int8(ci),
		variant:  uint8(g.rng.Uint32()),
		target:   -1,
	}
	// A first message always has text; later ones are sometimes a photo.
	it.attachment = kind == kindMessage && ci < 0 && g.rng.IntN(10) == 0
	g.nextSeq++
	g.items = append(g.items, it)
	return len(g.items) - 1
}

// between returns a random duration in [lo, hi] ms.
func (g *generator) between(lo, hi int64) int64 {
	return lo + g.rng.Int64N(hi-lo+1)
}

// order sorts one person's items by time (ties keep the script's order) and
// makes their times strictly increasing, keeping seconds whole. Distinct
// times make event ids distinct (a referral's id hashes its time) and leave
// no ties for the attribution rules to break by event id.
func order(items []item) {
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.at, b.at) })
	for i := 1; i < len(items); i++ {
		if prev := items[i-1].at; items[i].at <= prev {
			items[i].at = prev + 1
			if items[i].ts.inSeconds() {
				items[i].at += second - items[i].at%second
			}
		}
	}
}
