package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// TestIntegrationLinksCommand creates links through run on a real ClickHouse,
// repeats and conflicts one, lists the catalog, and writes QR codes that an
// independent decoder (zbarimg) reads back as the link.
func TestIntegrationLinksCommand(t *testing.T) {
	env := chEnv(t, nil)
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	links := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"links"}, args...), getenv, &out, io.Discard)
		return out.String(), err
	}

	tests := []struct {
		name      string
		args      []string
		wantFirst string
		wantErr   string
	}{
		{name: "instagram, ref given", args: []string{"create", "--platform", "Instagram", "--handle", "@shop.berlin", "--ref", "spring_poster_a", "--campaign", "spring", "--channel", "poster", "--variant", "a"},
			wantFirst: "created: spring_poster_a\n  https://ig.me/m/shop.berlin?ref=spring_poster_a\n"},
		{name: "the same again", args: []string{"create", "--platform", "instagram", "--handle", "shop.berlin", "--ref", "spring_poster_a", "--campaign", "spring", "--channel", "poster", "--variant", "a"},
			wantFirst: "already in the catalog, unchanged: spring_poster_a\n  https://ig.me/m/shop.berlin?ref=spring_poster_a\n"},
		{name: "messenger, ref generated", args: []string{"create", "--platform", "messenger", "--handle", "OriginalCoastClothing", "--campaign", "Summer", "--channel", "bio"},
			wantFirst: "created: summer_bio\n  https://m.me/OriginalCoastClothing?ref=summer_bio\n"},
		{name: "ref taken by another link", args: []string{"create", "--platform", "instagram", "--handle", "other.shop", "--ref", "spring_poster_a"},
			wantErr: `ref "spring_poster_a" already names another link (https://ig.me/m/shop.berlin?ref=spring_poster_a); choose another --ref`},
		{name: "ref against Meta's rules", args: []string{"create", "--platform", "instagram", "--handle", "shop.berlin", "--ref", "spring sale"}, wantErr: "--ref: "},
		{name: "no platform", args: []string{"create", "--handle", "shop.berlin"}, wantErr: `--platform: platform "": must be instagram or messenger`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := links(tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("links %v = %v, want an error starting %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.HasPrefix(out, tt.wantFirst) {
				t.Errorf("links %v printed %q (%v), want it to start %q", tt.args, out, err, tt.wantFirst)
			}
		})
	}

	out, err := links("list")
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, row := range table(out) {
		got = append(got, append(row[:6:6], row[7])) // all but created_at
	}
	want := [][]string{
		{"ref", "platform", "kind", "campaign", "channel", "variant", "url"},
		{"spring_poster_a", "instagram", "thread", "spring", "poster", "a", "https://ig.me/m/shop.berlin?ref=spring_poster_a"},
		{"summer_bio", "messenger", "thread", "Summer", "bio", "-", "https://m.me/OriginalCoastClothing?ref=summer_bio"},
	}
	// Newest first: both may share a second, so compare in ref order.
	sort.Slice(got[1:], func(i, j int) bool { return got[1+i][0] < got[1+j][0] })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("links list (-want +got):\n%s", diff)
	}

	dir := t.TempDir()
	png := filepath.Join(dir, "poster.png")
	if out, err := links("qr", "--out", png, "--size", "600", "spring_poster_a"); err != nil || out != "wrote "+png+" (600×600 px PNG, level M) of https://ig.me/m/shop.berlin?ref=spring_poster_a\n" {
		t.Fatalf("links qr = %q, %v", out, err)
	}
	svg := filepath.Join(dir, "poster.svg")
	if _, err := links("qr", "--out", svg, "--level", "h", "spring_poster_a"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(svg); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Errorf("SVG file: %v, %.60q", err, b)
	}
	if _, err := links("qr", "no_such_ref"); err == nil || err.Error() != `no link with ref "no_such_ref" in the catalog (reftrailctl links list)` {
		t.Errorf("qr of an unknown ref = %v", err)
	}
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		testenv.Unavailable(t, "zbarimg not found (Debian package zbar-tools): %v", err)
	}
	read, err := exec.Command(zbar, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", "-Sbinary", png).Output()
	if diff := cmp.Diff("https://ig.me/m/shop.berlin?ref=spring_poster_a", strings.TrimSuffix(string(read), "\n")); diff != "" || err != nil {
		t.Errorf("zbarimg read (-want +got):\n%s (%v)", diff, err)
	}
}
