package titlecard

import (
	"image"
	"image/color"
	"image/draw"
	"math"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// drawTitle draws the title in the largest size at which all of it fits
// between the accent bar and the bottom band, trying sizes from
// largestTitle down by sizeStep. At the smallest size, a title that still
// does not fit is cut after the last line that does, ending with "…".
func drawTitle(img draw.Image, f *opentype.Font, words []string, cut bool, c color.Color) error {
	for size := largestTitle; ; size -= sizeStep {
		face, err := newFace(f, float64(size))
		if err != nil {
			return err
		}
		lineHeight := size * 118 / 100
		lines := wrap(face, words)
		fits := len(lines)*lineHeight <= titleBottom-titleTop
		if (fits && !cut) || size-sizeStep < smallestSize {
			if !fits || cut {
				lines = cutToFit(face, lines, (titleBottom-titleTop)/lineHeight)
			}
			drawLines(img, face, lines, lineHeight, c)
			return face.Close()
		}
		face.Close()
	}
}

// drawLines draws the lines left-aligned, the block centred vertically in
// the title's area.
func drawLines(img draw.Image, face font.Face, lines []string, lineHeight int, c color.Color) {
	top := titleTop + (titleBottom-titleTop-len(lines)*lineHeight)/2
	ascent := face.Metrics().Ascent.Ceil()
	// A line's box is lineHeight high and the glyphs' ascent plus descent
	// less; half the difference above the glyphs centres them in it.
	pad := (lineHeight - ascent - face.Metrics().Descent.Ceil()) / 2
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face}
	for i, line := range lines {
		d.Dot = fixed.P(margin, top+i*lineHeight+pad+ascent)
		d.DrawString(line)
	}
}

// wrap breaks the words into lines no wider than the text area, breaking a
// word that is wider on its own (a long address, or a script written
// without spaces) between characters.
func wrap(face font.Face, words []string) []string {
	var lines []string
	line := ""
	for _, w := range words {
		candidate := w
		if line != "" {
			candidate = line + " " + w
		}
		if fitsWidth(face, candidate) {
			line = candidate
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		line = w
		for !fitsWidth(face, line) {
			head, rest := splitToWidth(face, line)
			lines = append(lines, head)
			line = rest
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

func fitsWidth(face font.Face, s string) bool {
	return font.MeasureString(face, s).Ceil() <= textWidth
}

// splitToWidth returns the longest head of s that fits (at least one
// character, so wrapping always moves on) and the rest.
func splitToWidth(face font.Face, s string) (head, rest string) {
	end := 0
	for i, r := range s {
		next := i + utf8.RuneLen(r)
		if r == utf8.RuneError {
			next = i + 1
		}
		if end > 0 && !fitsWidth(face, s[:next]) {
			break
		}
		end = next
	}
	return s[:end], s[end:]
}

// cutToFit keeps the first max lines (at least one) and ends the last with
// "…", shortening it until the ellipsis fits.
func cutToFit(face font.Face, lines []string, max int) []string {
	if max < 1 {
		max = 1
	}
	if len(lines) > max {
		lines = lines[:max]
	}
	out := append([]string(nil), lines...)
	out[len(out)-1] = withEllipsis(face, out[len(out)-1])
	return out
}

// withEllipsis shortens s by characters until s+"…" fits the text width.
func withEllipsis(face font.Face, s string) string {
	for {
		s = strings.TrimRight(s, " ")
		if s == "" || fitsWidth(face, s+ellipsis) {
			return s + ellipsis
		}
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
}

// Contrast is the WCAG 2 contrast ratio between two colours, from 1 (none)
// to 21 (black on white).
func Contrast(a, b color.Color) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// luminance is WCAG 2's relative luminance of an opaque colour.
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return 0.2126*linear(r) + 0.7152*linear(g) + 0.0722*linear(b)
}

func linear(v uint32) float64 {
	s := float64(v) / 0xffff
	if s <= 0.04045 {
		return s / 12.92
	}
	return math.Pow((s+0.055)/1.055, 2.4)
}
