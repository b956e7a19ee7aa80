package chstore

import (
	"errors"
	"testing"
	"time"
)

func TestWindowAt(t *testing.T) {
	const hour, day = int64(time.Hour / time.Millisecond), int64(24 * time.Hour / time.Millisecond)
	base := int64(1_710_028_800_000)
	ms := func(offset int64) time.Time { return time.UnixMilli(base + offset).UTC() }
	tests := []struct {
		name             string
		inbound, adStart int64
		now              int64
		want             Window
	}{
		{name: "never wrote", now: base, want: Window{Kind: WindowNone}},
		{name: "standard open", inbound: base, now: base + 23*hour, want: Window{Open: true, Kind: WindowStandard, ExpiresAt: ms(day)}},
		{name: "standard closes at 24 h", inbound: base, now: base + day, want: Window{Kind: WindowNone, ExpiresAt: ms(day)}},
		{name: "ad open after 6 days", inbound: base, adStart: base, now: base + 6*day, want: Window{Open: true, Kind: WindowAd, ExpiresAt: ms(7 * day)}},
		{name: "later message outlasts the ad", inbound: base + 6*day + hour, adStart: base, now: base + 6*day + 2*hour, want: Window{Open: true, Kind: WindowStandard, ExpiresAt: ms(7*day + hour)}},
		{name: "tie is standard", inbound: base + 6*day, adStart: base, now: base + 6*day, want: Window{Open: true, Kind: WindowStandard, ExpiresAt: ms(7 * day)}},
		{name: "ad closed", inbound: base, adStart: base, now: base + 7*day, want: Window{Kind: WindowNone, ExpiresAt: ms(7 * day)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := windowAt(tt.inbound, tt.adStart, time.UnixMilli(tt.now)); got != tt.want {
				t.Errorf("windowAt = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	for _, tc := range []struct {
		ms int64
		id string
	}{{1710028800000, "1843482560922866"}, {0, "guest-a:b"}} {
		ms, id, err := decodeCursor(encodeCursor(tc.ms, tc.id))
		if err != nil || ms != tc.ms || id != tc.id {
			t.Errorf("cursor of (%d, %q) decodes to (%d, %q, %v)", tc.ms, tc.id, ms, id, err)
		}
	}
	for _, bad := range []string{"!!", "bm8tY29sb24", "eDox", "MTox"[:3]} {
		if _, _, err := decodeCursor(bad); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("decodeCursor(%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}
