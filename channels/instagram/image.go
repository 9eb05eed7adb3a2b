package instagram

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // a post's GIF is converted
	"image/jpeg"
	_ "image/png" // a post's PNG and the title card are converted
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/titlecard"
	xdraw "golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // a post's WebP is converted
)

// keepImage is how long a served picture stays: Instagram fetches it when
// the container is made, and a container lives 24 hours.
const keepImage = 24 * time.Hour

// publicImage serves the post's picture, or its title card, at a public
// address and returns it with its alt text. A picture that cannot be had
// gives way to the fallback title card and its alt text, with a note;
// without one the post fails.
func (s *Sender) publicImage(ctx context.Context, img Image) (string, string, []string, error) {
	var notes []string
	alt := img.Alt
	var data []byte
	var err error
	switch {
	case img.Card != nil:
		data, err = s.drawCard(img.Card)
	default:
		data, err = s.readPicture(ctx, img)
		if err != nil && img.Fallback != nil {
			note := fmt.Sprintf("picture left out: %s: %v; Instagram got the title card instead", pictureRef(img), err)
			s.log.Warn("instagram: sending the title card instead of the picture", "reason", note)
			notes = append(notes, note)
			data, err = s.drawCard(img.Fallback)
			alt = cardAlt(img.Fallback.Title)
		}
	}
	if err != nil {
		return "", "", notes, err
	}
	u, err := s.images.Publish(ctx, data, "image/jpeg", keepImage)
	if err != nil {
		return "", "", notes, fmt.Errorf("serving the post's picture for Instagram to fetch: %w", err)
	}
	return u, alt, notes, nil
}

// readPicture reads the post's picture as a JPEG Instagram takes.
func (s *Sender) readPicture(ctx context.Context, img Image) ([]byte, error) {
	data, ct, err := channels.ReadImage(ctx, s.content, img.File, img.URL, maxImage, "Instagram")
	if err != nil {
		return nil, err
	}
	return toJPEG(data, ct)
}

// Instagram's documented aspect ratios of a feed photo, width over height:
// from 4:5 (portrait) to 1.91:1 (landscape).
const (
	minRatio = 4.0 / 5
	maxRatio = 1.91
)

// fitRatio pads a picture outside Instagram's aspect ratios with white to
// the nearest it takes (a phone's 3:4 portrait becomes 4:5), rather than
// have Instagram refuse the post; the picture itself is not cropped.
func fitRatio(src image.Image) image.Image {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return src
	}
	ratio := float64(w) / float64(h)
	switch {
	case ratio < minRatio:
		w = int(float64(h)*minRatio + 0.999)
	case ratio > maxRatio:
		h = int(float64(w)/maxRatio + 0.999)
	default:
		return src
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	at := image.Pt((w-b.Dx())/2, (h-b.Dy())/2)
	draw.Draw(out, b.Sub(b.Min).Add(at), src, b.Min, draw.Over)
	return out
}

// drawCard draws a title card as a JPEG.
func (s *Sender) drawCard(c *Card) ([]byte, error) {
	png, err := s.opts.DrawCard(titlecard.Options{Campaign: c.Campaign, Title: c.Title,
		Background: colour(c.Background), Text: colour(c.Text), Accent: colour(c.Accent)})
	if err != nil {
		return nil, channels.Permanent(fmt.Errorf("drawing the title card: %w", err))
	}
	return toJPEG(png, "image/png")
}

// Bounds of a converted picture.
const (
	// maxPixels bounds a picture Crier decodes: a PNG of a few KB can say
	// 20000×20000, gigabytes once decoded. A phone's 48 MP photo is 12 MP
	// as saved; 40 MP is well above any camera's JPEG.
	maxPixels = 40_000_000
	// maxWidth is the widest picture Instagram keeps; a wider one is
	// scaled down to it.
	maxWidth = 1440
)

// toJPEG converts a picture to the JPEG Instagram documents as the one
// format it publishes: turned as its EXIF Orientation says, at most
// maxWidth wide, within Instagram's aspect ratios, transparency white. A
// JPEG that fits already and needs no turning goes as it is. Its size is
// read before it is decoded, and one above maxPixels is refused (the
// caller gives way to the title card when there is one).
func toJPEG(data []byte, contentType string) ([]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, channels.Permanent(fmt.Errorf("Instagram publishes JPEG pictures, and this %s cannot be converted (%v): use a JPEG or PNG", contentType, err))
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, channels.Permanent(fmt.Errorf("the picture is %d×%d pixels (%d megapixels), more than the %d megapixels Crier converts for Instagram: save it smaller (Instagram shows at most %d pixels wide)",
			cfg.Width, cfg.Height, px/1_000_000, maxPixels/1_000_000, maxWidth))
	}
	orient := 1
	if format == "jpeg" {
		orient = exifOrientation(data)
	}
	if format == "jpeg" && orient == 1 {
		if r := float64(cfg.Width) / float64(cfg.Height); r >= minRatio && r <= maxRatio {
			return data, nil
		}
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, channels.Permanent(fmt.Errorf("Instagram publishes JPEG pictures, and this %s cannot be converted (%v): use a JPEG or PNG", contentType, err))
	}
	out := fitRatio(orientate(flatten(src, orient), orient))
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, out, &jpeg.Options{Quality: 90}); err != nil {
		return nil, channels.Permanent(fmt.Errorf("converting the picture to JPEG: %w", err))
	}
	if buf.Len() > maxImage {
		return nil, channels.Permanent(fmt.Errorf("the picture is %d MB as a JPEG, over Instagram's 8 MB", buf.Len()>>20))
	}
	return buf.Bytes(), nil
}

// flatten draws src on white, scaled down so that once turned as orient
// says it is at most maxWidth wide: the one copy beside the decoded
// picture, and a small one.
func flatten(src image.Image, orient int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	shown := w // the width once turned
	if orient >= 5 {
		shown = h
	}
	if shown > maxWidth {
		w = max(1, int(int64(w)*maxWidth/int64(shown)))
		h = max(1, int(int64(h)*maxWidth/int64(shown)))
	}
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(out, out.Bounds(), src, b.Min, draw.Over)
	} else {
		xdraw.BiLinear.Scale(out, out.Bounds(), src, b, xdraw.Over, nil)
	}
	return out
}

// orientate turns a picture as EXIF Orientation o says (2 to 8 mirror or
// turn it; 1 and anything else leave it).
func orientate(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			}
			copy(out.Pix[out.PixOffset(x, y):][:4], src.Pix[src.PixOffset(sx, sy):][:4])
		}
	}
	return out
}

// colour reads "#rrggbb" (campaign.colours, checked when the config is
// read); anything else is nil, the card's default.
func colour(s string) color.Color {
	c, err := titlecard.ParseColour(strings.TrimSpace(s))
	if err != nil {
		return nil
	}
	return c
}

func pictureRef(img Image) string {
	if img.File != "" {
		return img.File
	}
	return img.URL
}
