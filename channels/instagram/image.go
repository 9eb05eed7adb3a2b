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
)

// keepImage is how long a served picture stays: Instagram fetches it when
// the container is made, and a container lives 24 hours.
const keepImage = 24 * time.Hour

// publicImage serves the post's picture, or its title card, at a public
// address and returns it. A picture that cannot be had gives way to the
// fallback title card, with a note; without one the post fails.
func (s *Sender) publicImage(ctx context.Context, img Image) (string, []string, error) {
	var notes []string
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
		}
	}
	if err != nil {
		return "", notes, err
	}
	u, err := s.images.Publish(ctx, data, "image/jpeg", keepImage)
	if err != nil {
		return "", notes, fmt.Errorf("serving the post's picture for Instagram to fetch: %w", err)
	}
	return u, notes, nil
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

// toJPEG converts a picture to the JPEG Instagram documents as the one
// format it publishes, within its aspect ratios; transparency becomes
// white. A JPEG that fits already goes as it is.
func toJPEG(data []byte, contentType string) ([]byte, error) {
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(data)); err == nil && contentType == "image/jpeg" && cfg.Height > 0 {
		if r := float64(cfg.Width) / float64(cfg.Height); r >= minRatio && r <= maxRatio {
			return data, nil
		}
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, channels.Permanent(fmt.Errorf("Instagram publishes JPEG pictures, and this %s cannot be converted (%v): use a JPEG or PNG", contentType, err))
	}
	src = fitRatio(src)
	flat := image.NewRGBA(src.Bounds())
	draw.Draw(flat, flat.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(flat, flat.Bounds(), src, src.Bounds().Min, draw.Over)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, flat, &jpeg.Options{Quality: 90}); err != nil {
		return nil, channels.Permanent(fmt.Errorf("converting the picture to JPEG: %w", err))
	}
	return out.Bytes(), nil
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
