// Package titlecard draws a post's title card: a PNG with the campaign's
// name and colours and the post's title, for networks that show nothing
// without a picture (Instagram). The font is embedded, so every machine
// draws the same card.
//
// The fonts are the Go fonts (golang.org/x/image/font/gofont, BSD licence),
// which cover Latin, Greek and Cyrillic scripts. Characters they lack (emoji,
// CJK, Arabic…) are left out of the card, so "Summer fair 🎉" is drawn
// "Summer fair"; a title of nothing but such characters is drawn as the
// font's missing-glyph boxes rather than not at all. The card's alt text
// (AltText) carries the title as written either way.
package titlecard

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Options describe one card.
type Options struct {
	// Campaign is the campaign's name, drawn small above the title.
	Campaign string
	// Title is the post's title, wrapped and shrunk to fit.
	Title string
	// Background, Text and Accent are the card's colours; zero values
	// take Crier's defaults.
	Background, Text, Accent color.Color
}

// Size is the card's width and height in pixels: Instagram's square feed
// format at the width it displays pictures, so it neither crops nor scales
// the card.
const Size = 1080

// Crier's colours for a campaign that names none: white on a deep blue
// (contrast 12:1) with a warm accent.
var (
	defaultBackground = color.RGBA{0x1d, 0x35, 0x57, 0xff}
	defaultText       = color.RGBA{0xff, 0xff, 0xff, 0xff}
	defaultAccent     = color.RGBA{0xf4, 0xa2, 0x61, 0xff}
)

// The layout, in pixels.
const (
	margin       = 96
	nameSize     = 40
	barTop       = margin + nameSize + 40
	barWidth     = 140
	barHeight    = 14
	bandHeight   = 28 // the accent band along the bottom edge
	titleTop     = barTop + barHeight + 56
	titleBottom  = Size - bandHeight - margin
	textWidth    = Size - 2*margin
	largestTitle = 124
	smallestSize = 44
	sizeStep     = 8
	// maxTitleRunes bounds the work for a very long title: at the smallest
	// size far fewer characters fit on the card.
	maxTitleRunes = 600
	maxNameRunes  = 200
)

const ellipsis = "…"

// The fonts are parsed once: parsed, they are read-only and safe to share.
var boldFont = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(gobold.TTF)
})

var regularFont = sync.OnceValues(func() (*opentype.Font, error) {
	return opentype.Parse(goregular.TTF)
})

// Draw returns the card as a PNG. A title with nothing to draw is an error.
func Draw(o Options) ([]byte, error) {
	img, err := render(o)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	// The fastest compression: the card's flat colours compress well
	// anyway (50-100 kB), and encoding is most of the time Draw takes.
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("titlecard: encoding the card: %w", err)
	}
	return buf.Bytes(), nil
}

// render draws the card.
func render(o Options) (*image.RGBA, error) {
	bold, err := boldFont()
	if err != nil {
		return nil, fmt.Errorf("titlecard: reading the embedded bold font: %w", err)
	}
	words, cut := titleWords(o.Title)
	if len(words) == 0 {
		return nil, errors.New("titlecard: the post has no title to draw (the title is empty)")
	}
	if drawable := strings.Fields(known(bold, strings.Join(words, " "))); len(drawable) > 0 {
		words = drawable
	}
	regular, err := regularFont()
	if err != nil {
		return nil, fmt.Errorf("titlecard: reading the embedded regular font: %w", err)
	}
	bg, fg, accent := colours(o)
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	draw.Draw(img, img.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	if err := drawName(img, regular, o.Campaign, fg); err != nil {
		return nil, err
	}
	fill(img, image.Rect(margin, barTop, margin+barWidth, barTop+barHeight), accent)
	fill(img, image.Rect(0, Size-bandHeight, Size, Size), accent)
	if err := drawTitle(img, bold, words, cut, fg); err != nil {
		return nil, err
	}
	return img, nil
}

// titleWords splits the title into words (any run of white space, line
// breaks too, is one space; invisible characters are left out), at most
// maxTitleRunes characters of them; cut says some were left out.
func titleWords(title string) (words []string, cut bool) {
	// Control and format characters (a zero-width joiner, a direction
	// mark) draw nothing; a title of only those is as good as empty.
	title = strings.Map(func(r rune) rune {
		if unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return r
		}
		return -1
	}, title)
	if utf8.RuneCountInString(title) > maxTitleRunes {
		title = string([]rune(title)[:maxTitleRunes])
		cut = true
	}
	return strings.Fields(title), cut
}

// colours are the card's colours, defaults for those not given. Text that
// would not stand out from the background by WCAG's 4.5:1 (the contrast
// asked of normal text) is drawn in black or white instead, whichever
// stands out more, so a campaign's colour choice cannot make the card
// unreadable.
func colours(o Options) (bg, fg, accent color.Color) {
	bg, fg, accent = o.Background, o.Text, o.Accent
	if bg == nil {
		bg = defaultBackground
	}
	if fg == nil {
		fg = defaultText
	}
	if accent == nil {
		accent = defaultAccent
	}
	if Contrast(fg, bg) < 4.5 {
		fg = color.Black
		if Contrast(color.White, bg) > Contrast(color.Black, bg) {
			fg = color.White
		}
	}
	return bg, fg, accent
}

func fill(img draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// drawName draws the campaign's name on one line at the top, cut with "…"
// when it is too wide.
func drawName(img draw.Image, f *opentype.Font, name string, c color.Color) error {
	// Far fewer characters fit on the line: the rest is not looked at.
	if utf8.RuneCountInString(name) > maxNameRunes {
		name = string([]rune(name)[:maxNameRunes])
	}
	words := strings.Fields(name)
	if len(words) == 0 {
		return nil
	}
	face, err := newFace(f, nameSize)
	if err != nil {
		return err
	}
	defer face.Close()
	line := strings.Join(words, " ")
	if k := strings.Join(strings.Fields(known(f, line)), " "); k != "" {
		line = k
	}
	if font.MeasureString(face, line).Ceil() > textWidth {
		line = withEllipsis(face, line)
	}
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: face,
		Dot: fixed.P(margin, margin+face.Metrics().Ascent.Ceil())}
	d.DrawString(line)
	return nil
}

// known is s without the characters the font has no glyph for.
func known(f *opentype.Font, s string) string {
	var buf sfnt.Buffer
	return strings.Map(func(r rune) rune {
		if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
			if r == ' ' {
				return r
			}
			return -1
		}
		return r
	}, s)
}

func newFace(f *opentype.Font, size float64) (font.Face, error) {
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("titlecard: preparing the font at %vpx: %w", size, err)
	}
	return face, nil
}
