package titlecard

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// card draws o and decodes the PNG, failing the test on any error.
func card(t testing.TB, o Options) image.Image {
	t.Helper()
	b, err := Draw(o)
	if err != nil {
		t.Fatalf("Draw(%+q): %v", o.Title, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the card: %v", err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, Size, Size) {
		t.Fatalf("card is %v, want %dx%d", got, Size, Size)
	}
	return img
}

func same(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

// count is how many pixels of r have colour c.
func count(img image.Image, r image.Rectangle, c color.Color) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if same(img.At(x, y), c) {
				n++
			}
		}
	}
	return n
}

var titleArea = image.Rect(margin, titleTop, Size-margin, titleBottom)

func TestDrawSizeColoursAndTitle(t *testing.T) {
	t.Parallel()
	bg := color.RGBA{0xfa, 0xf3, 0xe0, 0xff}
	fg := color.RGBA{0x20, 0x20, 0x40, 0xff}
	accent := color.RGBA{0xc0, 0x30, 0x30, 0xff}
	o := Options{Campaign: "Friends of Hartley Park", Title: "Help us plant 500 trees", Background: bg, Text: fg, Accent: accent}
	img := card(t, o)
	for _, p := range []image.Point{{0, 0}, {Size - 1, 0}, {0, titleTop}, {Size - 1, titleBottom}} {
		if c := img.At(p.X, p.Y); !same(c, bg) {
			t.Errorf("pixel %v is %v, want the background %v", p, c, bg)
		}
	}
	for _, p := range []image.Point{{0, Size - 1}, {Size - 1, Size - 1}} {
		if c := img.At(p.X, p.Y); !same(c, accent) {
			t.Errorf("pixel %v is %v, want the accent band %v", p, c, accent)
		}
	}
	if n := count(img, titleArea, fg); n < 5000 {
		t.Errorf("title area has %d pixels of the text colour, want the title drawn there", n)
	}
	if n := count(img, image.Rect(margin, margin, Size-margin, margin+nameSize+10), fg); n < 200 {
		t.Errorf("the campaign's name has %d pixels of the text colour, want it drawn at the top", n)
	}
	o.Title = "Help us plant 600 trees"
	other := card(t, o)
	differ := 0
	for y := titleArea.Min.Y; y < titleArea.Max.Y; y++ {
		for x := titleArea.Min.X; x < titleArea.Max.X; x++ {
			if !same(img.At(x, y), other.At(x, y)) {
				differ++
			}
		}
	}
	if differ < 100 {
		t.Errorf("cards for two titles differ in %d pixels of the title area, want the title drawn", differ)
	}
}

func TestDrawDefaults(t *testing.T) {
	t.Parallel()
	img := card(t, Options{Title: "Spring litter pick"})
	if c := img.At(0, 0); !same(c, defaultBackground) {
		t.Errorf("background %v, want the default %v", c, defaultBackground)
	}
	if n := count(img, titleArea, defaultText); n < 2000 {
		t.Errorf("title area has %d pixels of the default text colour", n)
	}
	if Contrast(defaultText, defaultBackground) < 7 {
		t.Errorf("default contrast %.1f, want at least 7:1", Contrast(defaultText, defaultBackground))
	}
}

func TestDrawEmptyTitle(t *testing.T) {
	t.Parallel()
	for _, title := range []string{"", "   \n\t ", "\x00\u200d\u202e"} {
		_, err := Draw(Options{Campaign: "C", Title: title})
		if err == nil || !strings.Contains(err.Error(), "no title to draw") {
			t.Errorf("Draw(%q) = %v, want an error saying there is no title", title, err)
		}
	}
}

// A text colour too close to the background is replaced by black or white,
// whichever stands out more.
func TestDrawLowContrastText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		bg, fg, want color.RGBA
	}{
		{color.RGBA{0xff, 0xee, 0x88, 0xff}, color.RGBA{0xff, 0xff, 0xaa, 0xff}, color.RGBA{0, 0, 0, 0xff}},
		{color.RGBA{0x10, 0x20, 0x30, 0xff}, color.RGBA{0x30, 0x40, 0x50, 0xff}, color.RGBA{0xff, 0xff, 0xff, 0xff}},
	} {
		img := card(t, Options{Title: "Bake sale on Saturday", Background: tc.bg, Text: tc.fg})
		if n := count(img, titleArea, tc.want); n < 2000 {
			t.Errorf("on %v with text %v: %d pixels of %v in the title area, want the title in it", tc.bg, tc.fg, n, tc.want)
		}
		if n := count(img, titleArea, tc.fg); n > 0 {
			t.Errorf("on %v: %d pixels of the unreadable text colour %v", tc.bg, n, tc.fg)
		}
	}
}

// A very long title is shrunk, wrapped and cut: nothing is drawn in the
// margins or over the bottom band.
func TestDrawLongTitleFits(t *testing.T) {
	t.Parallel()
	for _, title := range []string{
		strings.Repeat("Volunteers needed for the spring litter pick ", 40),
		strings.Repeat("W", 5000),
		"https://example.org/a/very/long/address/without/any/spaces/in/it/" + strings.Repeat("x", 300),
	} {
		img := card(t, Options{Campaign: strings.Repeat("Long campaign name ", 20), Title: title})
		outside := []image.Rectangle{
			image.Rect(0, 0, margin-2, Size-bandHeight),                       // left margin
			image.Rect(Size-margin+2, 0, Size, Size-bandHeight),               // right margin
			image.Rect(0, titleBottom+2, Size, Size-bandHeight),               // below the title
			image.Rect(0, barTop+barHeight+2, Size, titleTop-2),               // between bar and title
			image.Rect(margin+barWidth+2, margin+nameSize+10, Size, titleTop), // right of the bar
		}
		for _, r := range outside {
			if n := count(img, r, defaultBackground); n != r.Dx()*r.Dy() {
				t.Errorf("title of %d characters: %d pixels drawn in %v, want none", utf8.RuneCountInString(title), r.Dx()*r.Dy()-n, r)
			}
		}
		if n := count(img, titleArea, defaultText); n < 2000 {
			t.Errorf("title of %d characters: %d text pixels, want it drawn", len(title), n)
		}
	}
}

func TestWrapCutsWithEllipsis(t *testing.T) {
	t.Parallel()
	f, err := boldFont()
	if err != nil {
		t.Fatal(err)
	}
	face, err := newFace(f, smallestSize)
	if err != nil {
		t.Fatal(err)
	}
	defer face.Close()
	lines := cutToFit(face, wrap(face, strings.Fields(strings.Repeat("word ", 500))), 3)
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "…") {
		t.Fatalf("lines %q, want 3 ending with …", lines)
	}
	for _, l := range lines {
		if !fitsWidth(face, l) {
			t.Errorf("line %q is wider than the card", l)
		}
	}
}

// Characters the font lacks are left out; a title of nothing else is still
// drawn (as boxes), without panicking.
func TestDrawCharactersTheFontLacks(t *testing.T) {
	t.Parallel()
	plain, err := Draw(Options{Campaign: "Hartley", Title: "Summer fair"})
	if err != nil {
		t.Fatal(err)
	}
	withEmoji, err := Draw(Options{Campaign: "Hartley 🌳", Title: "Summer 🎉 fair 🎉"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, withEmoji) {
		t.Errorf("emoji the font lacks changed the card, want them left out")
	}
	for _, title := range []string{"東京の公園で植樹", "مرحبا بكم", "Приют для собак", "🎉🎉🎉", "a\x00\x01", "\xff\xfe bad utf-8", "e\u0301\u0301\u0301"} {
		img := card(t, Options{Title: title})
		if n := count(img, titleArea, defaultBackground); n == titleArea.Dx()*titleArea.Dy() {
			t.Errorf("title %+q drew nothing", title)
		}
	}
}

func TestParseColour(t *testing.T) {
	t.Parallel()
	c, err := ParseColour("#1D3557")
	if err != nil || !same(c, defaultBackground) {
		t.Errorf("ParseColour(#1D3557) = %v, %v", c, err)
	}
	if c, err := ParseColour(""); c != nil || err != nil {
		t.Errorf("ParseColour(\"\") = %v, %v, want nil (the default)", c, err)
	}
	for _, bad := range []string{"1d3557", "#1d355", "#1d35577", "#gg0000", "#+12345", "red", "#1_2345"} {
		if _, err := ParseColour(bad); err == nil || !strings.Contains(err.Error(), "#rrggbb") {
			t.Errorf("ParseColour(%q) = %v, want an error naming #rrggbb", bad, err)
		}
	}
}

func FuzzDraw(f *testing.F) {
	for _, s := range []string{"Help us plant 500 trees", "", "東京", strings.Repeat("x ", 400), "\u202e\u0301", "\xff", "\x00\x01", "\u200d"} {
		f.Add(s)
	}
	// The fuzzer calls render, Draw less the standard library's PNG
	// encoder: encoding is most of Draw's time, and under the fuzzer's
	// instrumentation it left a handful of inputs a minute. Tests above
	// decode what Draw returns.
	f.Fuzz(func(t *testing.T, title string) {
		img, err := render(Options{Campaign: title, Title: title})
		visible := strings.IndexFunc(title, func(r rune) bool { return unicode.IsGraphic(r) && !unicode.IsSpace(r) }) >= 0
		if !visible {
			if err == nil || !strings.Contains(err.Error(), "no title to draw") {
				t.Fatalf("Draw(%+q) = %v, want an error: nothing to draw", title, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Draw(%+q): %v", title, err)
		}
		if img.Bounds() != image.Rect(0, 0, Size, Size) {
			t.Fatalf("Draw(%+q) made a card of %v", title, img.Bounds())
		}
	})
}

func BenchmarkDraw(b *testing.B) {
	o := Options{Campaign: "Friends of Hartley Park", Title: "Help us plant 500 trees in Hartley Park this winter"}
	for b.Loop() {
		if _, err := Draw(o); err != nil {
			b.Fatal(err)
		}
	}
}

var writeSample = flag.Bool("sample", false, "write the sample card to docs/img/title-card.png")

// TestSample writes the card shown in the docs, with -sample:
// go test ./titlecard -run TestSample -sample
func TestSample(t *testing.T) {
	if !*writeSample {
		t.Skip("run with -sample to write docs/img/title-card.png")
	}
	bg, _ := ParseColour("#0b3d2e")
	accent, _ := ParseColour("#f2c14e")
	b, err := Draw(Options{Campaign: "Friends of Hartley Park", Title: "Help us plant 500 trees in Hartley Park this winter", Background: bg, Accent: accent})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "docs", "img", "title-card.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
