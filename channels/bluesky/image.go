package bluesky

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // decoders for image.Decode
	"image/jpeg"
	_ "image/png"
	"net/http"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/contentfetch"
)

const (
	// MaxBlobBytes is the largest image blob app.bsky.embed.images accepts.
	MaxBlobBytes = 2_000_000
	// MaxThumbBytes is the largest link card thumbnail
	// (app.bsky.embed.external#external.thumb).
	MaxThumbBytes = 1_000_000
	// maxSourceBytes bounds an image read before it is recompressed.
	maxSourceBytes = 32 << 20
	// maxSide is the longest side a recompressed image keeps (what
	// Bluesky's apps upload).
	maxSide = 2000
)

// uploadImage reads the image, brings it under the blob limit and uploads it
// (com.atproto.repo.uploadBlob).
func (s *Sender) uploadImage(ctx context.Context, img *Image) (*Blob, *AspectRatio, error) {
	data, err := s.readImage(ctx, img)
	if err != nil {
		return nil, nil, err
	}
	limit := MaxBlobBytes
	if img.Thumb {
		limit = MaxThumbBytes
	}
	data, mime, ratio, err := fitImage(data, limit)
	if err != nil {
		return nil, nil, &imageLeftOut{what: cmp.Or(img.File, img.URL), err: err}
	}
	var out struct {
		Blob Blob `json:"blob"`
	}
	_, call, err := s.cli.call(ctx, request{method: http.MethodPost, nsid: "com.atproto.repo.uploadBlob", body: data, contentType: mime, auth: true}, &out)
	if err != nil {
		// An upload is harmless to repeat: an unused blob is dropped.
		return nil, nil, classify("uploading the image", err, call, false)
	}
	return &out.Blob, ratio, nil
}

// fitImage returns data when Bluesky takes it as it is (JPEG, PNG, GIF or
// WebP within limit bytes), else the image scaled down and recompressed as
// JPEG until it fits, with its width and height when they can be read.
func fitImage(data []byte, limit int) ([]byte, string, *AspectRatio, error) {
	mime := http.DetectContentType(data)
	cfg, _, cfgErr := image.DecodeConfig(bytes.NewReader(data))
	var ratio *AspectRatio
	if cfgErr == nil && cfg.Width > 0 && cfg.Height > 0 {
		ratio = &AspectRatio{Width: cfg.Width, Height: cfg.Height}
	}
	switch mime {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		if len(data) <= limit {
			return data, mime, ratio, nil
		}
	default:
		if cfgErr != nil {
			return nil, "", nil, fmt.Errorf("not an image Bluesky shows (%s)", mime)
		}
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", nil, fmt.Errorf("is %d bytes, over Bluesky's %d, and cannot be decoded to shrink it (%s): %w", len(data), limit, mime, err)
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxSide || h > maxSide {
		if w >= h {
			w, h = maxSide, max(1, h*maxSide/b.Dx())
		} else {
			w, h = max(1, w*maxSide/b.Dy()), maxSide
		}
	}
	for quality := 85; ; {
		out, err := encodeJPEG(scale(src, w, h), quality)
		if err != nil {
			return nil, "", nil, err
		}
		if len(out) <= limit {
			return out, "image/jpeg", &AspectRatio{Width: w, Height: h}, nil
		}
		if quality > 60 {
			quality -= 15
			continue
		}
		if w < 64 || h < 64 {
			return nil, "", nil, fmt.Errorf("cannot be brought under %d bytes", limit)
		}
		w, h = w*3/4, h*3/4
	}
}

func encodeJPEG(img image.Image, quality int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("recompressing: %w", err)
	}
	return buf.Bytes(), nil
}

// scale draws src onto a white w×h canvas (JPEG has no transparency),
// averaging the source pixels each target pixel covers.
func scale(src image.Image, w, h int) *image.RGBA {
	b := src.Bounds()
	flat := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(flat, flat.Bounds(), &image.Uniform{C: color.White}, image.Point{}, draw.Src)
	draw.Draw(flat, flat.Bounds(), src, b.Min, draw.Over)
	if w == b.Dx() && h == b.Dy() {
		return flat
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	sw, sh := b.Dx(), b.Dy()
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, max((y+1)*sh/h, y*sh/h+1)
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, max((x+1)*sw/w, x*sw/w+1)
			var r, g, bl, n uint32
			for sy := y0; sy < y1; sy++ {
				row := flat.Pix[sy*flat.Stride:]
				for sx := x0; sx < x1; sx++ {
					r += uint32(row[sx*4])
					g += uint32(row[sx*4+1])
					bl += uint32(row[sx*4+2])
					n++
				}
			}
			i := y*dst.Stride + x*4
			dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = uint8(r/n), uint8(g/n), uint8(bl/n), 255
		}
	}
	return dst
}

// imageLeftOut is an image the post goes out without, and why.
type imageLeftOut struct {
	what string
	err  error
}

func (e *imageLeftOut) Error() string {
	return fmt.Sprintf("image left out: %s: %v", e.what, e.err)
}

// readImage reads the image from its file, or fetches it through the
// guarded content client (which refuses addresses inside the network), at
// most maxSourceBytes. Any failure is an *imageLeftOut.
func (s *Sender) readImage(ctx context.Context, img *Image) ([]byte, error) {
	if img.File != "" {
		data, _, err := channels.ReadImageFile(img.File, maxSourceBytes)
		if err != nil {
			return nil, &imageLeftOut{what: img.File, err: err}
		}
		return data, nil
	}
	res, err := s.content.Image(ctx, img.URL)
	if err != nil {
		var fe *contentfetch.Error
		if errors.As(err, &fe) {
			err = fe.Err
		}
		return nil, &imageLeftOut{what: img.URL, err: err}
	}
	if len(res.Data) > maxSourceBytes {
		return nil, &imageLeftOut{what: img.URL, err: fmt.Errorf("it is larger than %d MB", maxSourceBytes>>20)}
	}
	return res.Data, nil
}
