package links

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reftrail/reftrail/internal/dev/testenv"
)

// zbarimg decodes the QR code of the image file at path with Debian's
// zbar-tools, a decoder independent of the encoder under test.
func zbarimg(t *testing.T, path string) string {
	t.Helper()
	bin, err := exec.LookPath("zbarimg")
	if err != nil {
		testenv.Unavailable(t, "zbarimg not found (Debian package zbar-tools): %v", err)
	}
	// -Sbinary keeps the bytes as encoded instead of guessing a character set.
	out, err := exec.Command(bin, "--raw", "-q", "-Sdisable", "-Sqrcode.enable", "-Sbinary", path).Output()
	if err != nil {
		t.Fatalf("zbarimg %s found no code: %v", filepath.Base(path), err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// rasterize draws the SVG file at path as a PNG of width pixels with librsvg's
// rsvg-convert, a renderer independent of our drawing.
func rasterize(t *testing.T, path string, width int) string {
	t.Helper()
	bin, err := exec.LookPath("rsvg-convert")
	if err != nil {
		testenv.Unavailable(t, "rsvg-convert not found (Debian package librsvg2-bin): %v", err)
	}
	out := strings.TrimSuffix(path, ".svg") + ".png"
	cmd := exec.Command(bin, "--width", fmt.Sprint(width), "--background-color", "white", "--output", out, path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rsvg-convert %s: %v: %s", filepath.Base(path), err, b)
	}
	return out
}

// qrLinks are links of every form, the longest a catalog can hold included.
func qrLinks(t *testing.T) map[string]string {
	t.Helper()
	specs := map[string]Spec{
		"instagram":         {Platform: Instagram, Handle: "shop.berlin", Ref: "spring-sale-2026_qr-poster_a"},
		"messenger-text":    {Platform: Messenger, Handle: "OriginalCoastClothing", Ref: "summer_coupon=1", Text: "Hello and Welcome"},
		"optin":             {Platform: Messenger, Kind: KindOptin, Handle: "OriginalCoastClothing", Topic: "weekly deals", Cadence: "weekly"},
		"longest-instagram": {Platform: Instagram, Handle: strings.Repeat("a", 30), Ref: strings.Repeat("Az9-_=", 347) + "x"},
		"longest-messenger": {Platform: Messenger, Handle: strings.Repeat("p", 50), Ref: strings.Repeat("Az9_-", 416) + "xyz"},
	}
	out := map[string]string{}
	for name, s := range specs {
		u, err := Build(s)
		if err != nil {
			t.Fatalf("Build %s: %v", name, err)
		}
		out[name] = u
	}
	return out
}

func TestIntegrationQRCodePNGDecodes(t *testing.T) {
	dir := t.TempDir()
	for name, link := range qrLinks(t) {
		for _, level := range []QRLevel{QRLevelM, QRLevelQ, QRLevelH} {
			code, err := NewQRCode(link, QROptions{Level: level})
			if err != nil {
				if strings.HasPrefix(name, "longest") && level != QRLevelM {
					continue // only M holds the longest links, as MaxURLBytes says
				}
				t.Fatalf("NewQRCode %s at %s: %v", name, level, err)
			}
			// Several sizes: the smallest that gives 3 pixels a module, a
			// size that does not divide evenly, and a large one (at M only:
			// drawing it is most of this test's time under -race).
			sizes := []int{3 * code.Modules(), 3*code.Modules() + 7}
			if level == QRLevelM {
				sizes = append(sizes, 1200)
			}
			for _, size := range sizes {
				t.Run(fmt.Sprintf("%s/%s/%d", name, level, size), func(t *testing.T) {
					b, err := code.PNG(size)
					if err != nil {
						t.Fatalf("PNG(%d): %v", size, err)
					}
					img, err := png.Decode(bytes.NewReader(b))
					if err != nil {
						t.Fatalf("decoding our PNG: %v", err)
					}
					if got := img.Bounds().Dx(); got != size || img.Bounds().Dy() != size {
						t.Errorf("PNG is %v, want %dx%d", img.Bounds(), size, size)
					}
					path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.png", name, level, size))
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					if got := zbarimg(t, path); got != link {
						t.Errorf("zbarimg read %.80q..., want %.80q... (%d vs %d bytes)", got, link, len(got), len(link))
					}
				})
			}
		}
	}
}

func TestIntegrationQRCodeSVGDecodes(t *testing.T) {
	dir := t.TempDir()
	for name, link := range qrLinks(t) {
		t.Run(name, func(t *testing.T) {
			code, err := NewQRCode(link, QROptions{})
			if err != nil {
				t.Fatalf("NewQRCode: %v", err)
			}
			path := filepath.Join(dir, name+".svg")
			if err := os.WriteFile(path, code.SVG(), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := zbarimg(t, rasterize(t, path, 4*code.Modules())); got != link {
				t.Errorf("zbarimg read %.80q..., want %.80q... (%d vs %d bytes)", got, link, len(got), len(link))
			}
		})
	}
}
