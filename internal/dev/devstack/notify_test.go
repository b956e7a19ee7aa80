package main

import (
	"strings"
	"testing"
)

// TestPrintNotify checks that the signing secret is printed only when it is
// the development default.
func TestPrintNotify(t *testing.T) {
	for _, tt := range []struct {
		name      string
		env       map[string]string
		want, not string
	}{
		{"development default", map[string]string{"NOTIFY_URLS": "http://127.0.0.1:9180/"}, "NOTIFY_SECRET=" + devNotifySecret + " make receiver", "not printed"},
		{"user's secret", map[string]string{"NOTIFY_URLS": "http://127.0.0.1:9180/", "NOTIFY_SECRET": "whsec_c2VjcmV0"}, "from NOTIFY_SECRET (not printed)", "whsec_c2VjcmV0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			printNotify(&out, func(k string) string { return tt.env[k] })
			if !strings.Contains(out.String(), tt.want) || strings.Contains(out.String(), tt.not) {
				t.Errorf("printNotify wrote %q, want it to contain %q and not %q", out.String(), tt.want, tt.not)
			}
		})
	}
}
