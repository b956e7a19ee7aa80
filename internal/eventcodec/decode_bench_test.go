package eventcodec

import (
	"context"
	"fmt"
	"testing"

	"github.com/reftrail/reftrail/internal/dev/traffic"
	"github.com/reftrail/reftrail/internal/event"
	"github.com/reftrail/reftrail/internal/meta"
)

// BenchmarkDecodePlan decodes the events of a demo traffic plan (referrals, a
// third of them from ads with their context, messages, postbacks, opt-ins)
// as sink does, one op per event: with hamba alone (fast=false) and with
// readCurrent (fast=true).
func BenchmarkDecodePlan(b *testing.B) {
	plan, err := traffic.NewPlan(traffic.Options{Seed: 17, Participants: 3000, MaxItemsPerBody: 100, RedeliveryFraction: -1, BadPayloads: -1})
	if err != nil {
		b.Fatal(err)
	}
	codec, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	var encoded [][]byte
	// Received after the plan's last event: Decode refuses times more than
	// a day after receipt.
	received := traffic.DefaultStart.AddDate(0, 0, 42).UnixMilli()
	for i, w := range plan.Webhooks() {
		res, err := meta.Decode(w.Body, meta.Source{ReceivedTime: received, Partition: int32(i % 3), Offset: int64(i)})
		if err != nil || len(res.Bad) > 0 {
			b.Fatalf("decoding the plan's body %d: %v %v", i, err, res.Bad)
		}
		for j := range res.Events {
			v, err := codec.Append(nil, &res.Events[j])
			if err != nil {
				b.Fatal(err)
			}
			encoded = append(encoded, v)
		}
	}
	for _, fast := range []bool{false, true} {
		b.Run(fmt.Sprintf("fast=%v", fast), func(b *testing.B) {
			dec, err := NewDecoder(nil)
			if err != nil {
				b.Fatal(err)
			}
			dec.fast = fast
			ctx := context.Background()
			var e event.Event
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := dec.Decode(ctx, encoded[i%len(encoded)], &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
