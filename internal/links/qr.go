package links

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strconv"

	qrcode "github.com/yeqown/go-qrcode/v2"
)

// QRLevel is a QR code's error correction level. Printed codes get scratched
// and dirty, so reftrail makes nothing below M.
type QRLevel string

// Levels: M restores about 15% of a damaged code, Q 25%, H 30%. Higher levels
// make denser codes and hold shorter links.
const (
	QRLevelM QRLevel = "M"
	QRLevelQ QRLevel = "Q"
	QRLevelH QRLevel = "H"
)

// DefaultQuietZone is the blank border, in modules, that the QR standard asks
// for around a code so that cameras find its edges.
const DefaultQuietZone = 4

// QROptions tune NewQRCode. The zero value is level M with a 4-module quiet zone.
type QROptions struct {
	Level QRLevel
	// QuietZone is the border in modules, 4 to 16. Default 4.
	QuietZone int
}

// QRCode is the module matrix of a link's QR code, quiet zone included, from
// which PNG and SVG draw the same picture.
type QRCode struct {
	dark  [][]bool // [y][x], the code without its quiet zone
	quiet int
}

// NewQRCode encodes text (a link) in byte mode. The encoding is
// github.com/yeqown/go-qrcode's; the drawing is ours, from its matrix, so the
// PNG and the SVG are the same code.
func NewQRCode(text string, opts QROptions) (*QRCode, error) {
	levels := map[QRLevel]qrcode.EncodeOption{
		"":       qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
		QRLevelM: qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
		QRLevelQ: qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart),
		QRLevelH: qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionHighest),
	}
	level, ok := levels[opts.Level]
	if !ok {
		return nil, fmt.Errorf("QR error correction %q: must be M, Q or H", opts.Level)
	}
	quiet := opts.QuietZone
	if quiet == 0 {
		quiet = DefaultQuietZone
	}
	if quiet < 4 || quiet > 16 {
		return nil, fmt.Errorf("QR quiet zone %d: must be 4 to 16 modules", quiet)
	}
	if text == "" {
		return nil, errors.New("QR code of nothing: the link is empty")
	}
	qr, err := qrcode.NewWith(text, qrcode.WithEncodingMode(qrcode.EncModeByte), level)
	if err != nil {
		return nil, fmt.Errorf("encoding a QR code of %d bytes: %w", len(text), err)
	}
	var m matrixWriter
	if err := qr.Save(&m); err != nil {
		return nil, fmt.Errorf("encoding a QR code: %w", err)
	}
	return &QRCode{dark: m.dark, quiet: quiet}, nil
}

// matrixWriter takes the module matrix out of the library.
type matrixWriter struct{ dark [][]bool }

func (w *matrixWriter) Write(m qrcode.Matrix) error { w.dark = m.Bitmap(); return nil }
func (w *matrixWriter) Close() error                { return nil }

// Modules is the code's width in modules, quiet zone included: the smallest
// PNG size, at one pixel per module.
func (c *QRCode) Modules() int { return len(c.dark) + 2*c.quiet }

func (c *QRCode) isDark(x, y int) bool {
	x, y = x-c.quiet, y-c.quiet
	return y >= 0 && y < len(c.dark) && x >= 0 && x < len(c.dark[y]) && c.dark[y][x]
}

// PNG draws the code size pixels square, each module a whole number of pixels
// (sharp edges for scanners); the pixels left over widen the quiet zone. A
// size under Modules is refused.
func (c *QRCode) PNG(size int) ([]byte, error) {
	n := c.Modules()
	if size < n {
		return nil, fmt.Errorf("a %d-pixel image is too small for this %d-module code: use at least %d", size, n, n)
	}
	scale := size / n
	offset := (size - n*scale) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !c.isDark(x, y) {
				continue
			}
			for py := offset + y*scale; py < offset+(y+1)*scale; py++ {
				row := img.Pix[py*img.Stride:]
				for px := offset + x*scale; px < offset+(x+1)*scale; px++ {
					row[px] = 1
				}
			}
		}
	}
	var b bytes.Buffer
	// Default compression: for a 4096-pixel version 40 code, BestCompression
	// made 20 KB instead of 23 KB but took 1.6 s instead of 0.5 s (one run).
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encoding PNG: %w", err)
	}
	return b.Bytes(), nil
}

// SVG draws the code as a scalable image for print: one unit per module, a
// white background over the quiet zone, and one path of the dark modules with
// horizontal runs merged. Printers scale it to any size without blur.
func (c *QRCode) SVG() []byte {
	n := strconv.Itoa(c.Modules())
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 ` + n + ` ` + n + `" width="` + n + `mm" height="` + n + `mm" shape-rendering="crispEdges">` + "\n")
	b.WriteString(`<rect width="100%" height="100%" fill="#fff"/>` + "\n")
	b.WriteString(`<path fill="#000" d="`)
	for y, row := range c.dark {
		for x := 0; x < len(row); {
			if !row[x] {
				x++
				continue
			}
			run := 1
			for x+run < len(row) && row[x+run] {
				run++
			}
			fmt.Fprintf(&b, "M%d %dh%dv1h-%dz", x+c.quiet, y+c.quiet, run, run)
			x += run
		}
	}
	b.WriteString(`"/>` + "\n</svg>\n")
	return b.Bytes()
}
