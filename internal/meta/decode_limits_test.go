package meta

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// emptyItemsPayload is a signed-size (4 MiB) payload of empty messaging
// items, spread over entries entries: about 1.4 million items, each an
// invalid_item at most, which a forged or broken sender can produce.
func emptyItemsPayload(entries int) []byte {
	const size = 4 << 20
	var b bytes.Buffer
	b.WriteString(`{"object":"page","entry":[`)
	per := (size / 3) / entries
	for e := range entries {
		if e > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"1","messaging":[{}`)
		b.WriteString(strings.Repeat(`,{}`, per-1))
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestDecodeCapsItems checks that at most maxItems items and maxEntries
// entries of a payload are decoded, in order, and that the rest is reported
// as too_many_items (first, so that it is the dead letter's reason) instead of
// being expanded.
func TestDecodeCapsItems(t *testing.T) {
	item := func(i int) string {
		return fmt.Sprintf(`{"sender":{"id":"p%d"},"recipient":{"id":"1"},"timestamp":1717000000000,"referral":{"ref":"r","source":"SHORTLINK","type":"OPEN_THREAD"}}`, i)
	}
	items := func(from, n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = item(from + i)
		}
		return strings.Join(s, ",")
	}
	tests := []struct {
		name       string
		body       string
		wantEvents int
		wantBad    []Reason
	}{
		{name: "1,000 items in one list", body: `{"object":"page","entry":[{"id":"1","messaging":[` + items(0, 1000) + `]}]}`, wantEvents: 1000},
		{name: "1,001 items in one list", body: `{"object":"page","entry":[{"id":"1","messaging":[` + items(0, 1001) + `]}]}`,
			wantEvents: 1000, wantBad: []Reason{ReasonTooManyItems}},
		{name: "over two entries and lists", body: `{"object":"page","entry":[{"id":"1","messaging":[` + items(0, 600) + `],"standby":[` + items(600, 300) + `]},{"id":"1","messaging":[` + items(900, 200) + `]}]}`,
			wantEvents: 1000, wantBad: []Reason{ReasonTooManyItems}},
		{name: "excess reported before other bad items", body: `{"object":"page","entry":[{"id":"1","messaging":[{"recipient":{"id":"1"},"timestamp":1717000000000,"referral":{}},` + items(0, 1000) + `]}]}`,
			wantEvents: 999, wantBad: []Reason{ReasonTooManyItems, ReasonMissingSender}},
		{name: "1,001 entries", body: `{"object":"page","entry":[` + strings.Repeat(`{"id":"1"},`, 1000) + `{"id":"1","messaging":[` + item(0) + `]}]}`,
			wantBad: []Reason{ReasonTooManyItems}},
		{name: "type mismatch: the layered decode caps too", body: `{"object":"page","entry":[{"id":"1","standby":5,"messaging":[` + items(0, 1001) + `]}]}`,
			wantEvents: 1000, wantBad: []Reason{ReasonTooManyItems, ReasonInvalidEntry}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Decode([]byte(tt.body), testSource)
			if err != nil {
				t.Fatal(err)
			}
			var bad []Reason
			for _, b := range res.Bad {
				bad = append(bad, b.Reason)
			}
			if len(res.Events) != tt.wantEvents || fmt.Sprint(bad) != fmt.Sprint(tt.wantBad) {
				t.Errorf("Decode = %d events, bad %v; want %d events, bad %v", len(res.Events), bad, tt.wantEvents, tt.wantBad)
			}
			for i, e := range res.Events {
				if want := fmt.Sprintf("p%d", i); tt.wantEvents == 1000 && e.ParticipantID != want {
					t.Fatalf("event %d is from %s, want %s: the first items in payload order", i, e.ParticipantID, want)
				}
			}
			compareLayered(t, []byte(tt.body))
		})
	}
}

// TestDecodeMemoryIsBounded decodes a 4 MiB payload of empty items and checks
// the bytes allocated. Before items were capped, it took about 900 MB (every
// item decoded, and events preallocated for all of them).
func TestDecodeMemoryIsBounded(t *testing.T) {
	for _, entries := range []int{1, 1000} {
		body := emptyItemsPayload(entries)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res, err := Decode(body, testSource)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d entries: %d bytes of payload, %.1f MB allocated, %d bad", entries, len(body), float64(allocated)/1e6, len(res.Bad))
		if limit := uint64(20 * len(body)); allocated > limit {
			t.Errorf("decoding a %d-byte payload allocated %d bytes, want at most %d", len(body), allocated, limit)
		}
	}
}

// BenchmarkDecodeEmptyItems reports the bytes allocated to decode a 4 MiB
// payload of empty items (B/op).
func BenchmarkDecodeEmptyItems(b *testing.B) {
	body := emptyItemsPayload(1)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body, testSource); err != nil {
			b.Fatal(err)
		}
	}
}
