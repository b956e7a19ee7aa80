package traffic

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// Batching rules.
const (
	// batchWindow closes a body whose items would span more than this.
	batchWindow = hour
	// swapShare of bodies trade places with the next one: Meta does not
	// guarantee delivery order.
	swapShare = 0.05
	// redeliveryDelay bounds how many bodies after its original a redelivery
	// comes.
	redeliveryDelay = 20
)

// badReasons are the planned bad payloads, in the order Options.BadPayloads
// cycles through them.
var badReasons = []meta.Reason{meta.ReasonInvalidJSON, meta.ReasonNotMetaEnvelope, meta.ReasonMissingSender}

// body is one planned POST body before rendering.
type body struct {
	platform event.Platform
	items    []int32 // indexes into the plan's items, in time order
	first    int64   // time of the first item
	size     int     // the item count at which the body closes
	// badItem adds an item without a sender to the first entry.
	badItem bool
}

// batcher groups a plan's items into webhooks.
type batcher struct {
	rng   *rand.Rand
	opts  Options
	r     renderer
	items []item
	// What the batching decided, for Expected.
	redeliveries int
	deadLetters  map[meta.Reason]int
}

func newBatcher(rng *rand.Rand, opts Options, people []person, items []item, salt uint64) *batcher {
	return &batcher{
		rng:         rng,
		opts:        opts,
		r:           renderer{people: people, salt: salt},
		items:       items,
		deadLetters: make(map[meta.Reason]int),
	}
}

// webhooks batches, renders and orders every POST of the plan.
func (b *batcher) webhooks() []Webhook {
	bodies := b.batch()
	// Neighbours swap places now and then, never twice in a row, so the
	// disorder stays local as with Meta's retries.
	for i := 0; i+1 < len(bodies); i++ {
		if b.rng.Float64() < swapShare {
			bodies[i], bodies[i+1] = bodies[i+1], bodies[i]
			i++
		}
	}
	var whole []meta.Reason
	for i := range b.opts.BadPayloads {
		reason := badReasons[i%len(badReasons)]
		b.deadLetters[reason]++
		if reason == meta.ReasonMissingSender {
			bodies = b.plantBadItem(bodies)
		} else {
			whole = append(whole, reason)
		}
	}
	rendered := b.render(bodies)
	out := b.redeliver(rendered)
	for _, reason := range whole {
		out = slices.Insert(out, b.rng.IntN(len(out)+1), b.badPayload(reason, rendered))
	}
	return out
}

// batch walks the items in time order and fills one open body per platform
// (a body carries one object), closing it at its drawn size or when it would
// span more than batchWindow.
func (b *batcher) batch() []*body {
	order := make([]int32, len(b.items))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int {
		return cmp.Or(cmp.Compare(b.items[x].at, b.items[y].at), cmp.Compare(b.items[x].seq, b.items[y].seq))
	})
	var bodies []*body
	var open [2]*body // Instagram, Messenger
	for _, idx := range order {
		it := &b.items[idx]
		platform := b.r.people[it.person].platform
		slot := 0
		if platform == event.Messenger {
			slot = 1
		}
		if o := open[slot]; o != nil && (len(o.items) == o.size || it.at-o.first > batchWindow) {
			bodies = append(bodies, o)
			open[slot] = nil
		}
		if open[slot] == nil {
			open[slot] = &body{platform: platform, first: it.at, size: 1 + b.rng.IntN(b.opts.MaxItemsPerBody)}
		}
		open[slot].items = append(open[slot].items, idx)
	}
	for _, o := range open {
		if o != nil {
			bodies = append(bodies, o)
		}
	}
	slices.SortStableFunc(bodies, func(x, y *body) int { return cmp.Compare(x.first, y.first) })
	return bodies
}

// plantBadItem adds an item without a sender to a body that has room for it
// and none yet; when no body has room, it adds a body holding only that item.
func (b *batcher) plantBadItem(bodies []*body) []*body {
	start := b.rng.IntN(len(bodies) + 1)
	for k := range bodies {
		bd := bodies[(start+k)%len(bodies)]
		if !bd.badItem && len(bd.items) < b.opts.MaxItemsPerBody {
			bd.badItem = true
			return bodies
		}
	}
	bd := &body{platform: event.Instagram, first: b.opts.Start.UnixMilli(), badItem: true}
	return slices.Insert(bodies, start, bd)
}

// render writes every body. The bodies share one growing buffer: fewer
// allocations, and each keeps its bytes when the buffer moves.
func (b *batcher) render(bodies []*body) []Webhook {
	out := make([]Webhook, len(bodies))
	// About 230 bytes per item with its share of the envelope; a little more
	// saves a copy on most plans.
	buf := make([]byte, 0, 256*len(b.items)+1024)
	var accounts []string
	for i, bd := range bodies {
		start := len(buf)
		accounts = accounts[:0]
		for _, idx := range bd.items {
			if a := b.r.people[b.items[idx].person].account; !slices.Contains(accounts, a) {
				accounts = append(accounts, a)
			}
		}
		if len(accounts) == 0 {
			accounts = append(accounts, instagramAccounts[0])
		}
		// entry.time is when Meta assembled the batch: the last item's time.
		batchTime := bd.first
		if n := len(bd.items); n > 0 {
			batchTime = b.items[bd.items[n-1]].at
		}
		buf = append(buf, `{"object":"`...)
		if bd.platform == event.Instagram {
			buf = append(buf, "instagram"...)
		} else {
			buf = append(buf, "page"...)
		}
		buf = append(buf, `","entry":[`...)
		for e, account := range accounts {
			if e > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"id":"`...)
			buf = append(buf, account...)
			buf = append(buf, `","time":`...)
			buf = strconv.AppendInt(buf, batchTime, 10)
			buf = append(buf, `,"messaging":[`...)
			n := 0
			for _, idx := range bd.items {
				it := &b.items[idx]
				if b.r.people[it.person].account != account {
					continue
				}
				if n > 0 {
					buf = append(buf, ',')
				}
				buf = b.r.appendItem(buf, it)
				n++
			}
			if e == 0 && bd.badItem {
				if n > 0 {
					buf = append(buf, ',')
				}
				buf = appendSenderless(buf, bd.platform, account, bd.first)
			}
			buf = append(buf, "]}"...)
		}
		buf = append(buf, "]}"...)
		out[i].Body = buf[start:len(buf):len(buf)]
		if bd.badItem {
			out[i].DeadLetter = meta.ReasonMissingSender
		}
	}
	return out
}

// appendSenderless writes a standalone referral without a sender: the
// decoder rejects it as missing_sender and keeps the body's other items.
func appendSenderless(b []byte, platform event.Platform, account string, at int64) []byte {
	b = append(b, `{"recipient":{"id":"`...)
	b = append(b, account...)
	b = append(b, `"},"timestamp":`...)
	b = strconv.AppendInt(b, at, 10)
	b = append(b, `,"referral":{"ref":"spring_sale_qr","source":"`...)
	b = append(b, shortlinkSource(platform, 0)...)
	return append(b, `","type":"OPEN_THREAD"}}`...)
}

// redeliver inserts exact copies of some good bodies a few positions after
// their originals. Bad bodies are never redelivered: each delivery of a bad
// body is one more dead letter, and Expected counts one per bad body.
func (b *batcher) redeliver(ws []Webhook) []Webhook {
	due := make([][]int, len(ws))
	for i := range ws {
		if ws[i].DeadLetter != "" || b.rng.Float64() >= b.opts.RedeliveryFraction {
			continue
		}
		d := min(i+1+b.rng.IntN(redeliveryDelay), len(ws)-1)
		due[d] = append(due[d], i)
		b.redeliveries++
	}
	out := make([]Webhook, 0, len(ws)+b.redeliveries)
	for i := range ws {
		out = append(out, ws[i])
		for _, j := range due[i] {
			c := ws[j]
			c.Redelivery = true
			out = append(out, c)
		}
	}
	return out
}

// badPayload makes a body that is unusable as a whole: invalid JSON (a good
// body cut in half, as a broken proxy would) or not a Meta envelope (a
// changes element posted on its own).
func (b *batcher) badPayload(reason meta.Reason, good []Webhook) Webhook {
	w := Webhook{DeadLetter: reason}
	switch reason {
	case meta.ReasonInvalidJSON:
		body := good[b.rng.IntN(len(good))].Body
		w.Body = body[: len(body)/2 : len(body)/2]
	default:
		buf := append([]byte(nil), `{"field":"messages","value":`...)
		buf = b.r.appendItem(buf, &b.items[b.rng.IntN(len(b.items))])
		w.Body = append(buf, '}')
	}
	return w
}
