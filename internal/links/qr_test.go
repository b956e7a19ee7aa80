package links

import (
	"strings"
	"testing"
)

func TestNewQRCodeOptions(t *testing.T) {
	const link = "https://ig.me/m/shop?ref=a"
	tests := []struct {
		name    string
		opts    QROptions
		modules int // 0: an error is wanted
	}{
		// 26 bytes: version 2 (25 modules) at M, version 4 (33) at H.
		{"defaults: M, quiet zone 4", QROptions{}, 25 + 8},
		{"H", QROptions{Level: QRLevelH}, 33 + 8},
		{"wide quiet zone", QROptions{QuietZone: 10}, 25 + 20},
		{"level L refused", QROptions{Level: "L"}, 0},
		{"quiet zone under 4 refused", QROptions{QuietZone: 2}, 0},
		{"quiet zone over 16 refused", QROptions{QuietZone: 17}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := NewQRCode(link, tt.opts)
			if tt.modules == 0 {
				if err == nil {
					t.Fatalf("NewQRCode(%+v): want an error", tt.opts)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewQRCode(%+v): %v", tt.opts, err)
			}
			if got := code.Modules(); got != tt.modules {
				t.Errorf("Modules() = %d, want %d", got, tt.modules)
			}
		})
	}
}

func TestQRCodePNGTooSmall(t *testing.T) {
	code, err := NewQRCode("https://ig.me/m/shop?ref=a", QROptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := code.PNG(code.Modules() - 1); err == nil || !strings.Contains(err.Error(), "at least 33") {
		t.Errorf("PNG(%d) error = %v, want one naming the least size 33", code.Modules()-1, err)
	}
}

func TestQRCodeTooLong(t *testing.T) {
	if _, err := NewQRCode(strings.Repeat("a", MaxURLBytes+1), QROptions{}); err == nil {
		t.Errorf("NewQRCode of %d bytes at M: want an error", MaxURLBytes+1)
	}
	if _, err := NewQRCode(strings.Repeat("a", MaxURLBytes), QROptions{}); err != nil {
		t.Errorf("NewQRCode of MaxURLBytes (%d): %v", MaxURLBytes, err)
	}
}
