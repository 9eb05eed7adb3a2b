package bluesky

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFitImage(t *testing.T) {
	small := image.NewNRGBA(image.Rect(0, 0, 30, 20))
	small.Set(1, 1, color.NRGBA{255, 0, 0, 128})
	var pngBuf, jpgBuf bytes.Buffer
	_ = png.Encode(&pngBuf, small)
	_ = jpeg.Encode(&jpgBuf, small, nil)

	for name, data := range map[string][]byte{"png": pngBuf.Bytes(), "jpeg": jpgBuf.Bytes()} {
		out, _, ratio, err := fitImage(data, MaxBlobBytes)
		if err != nil || !bytes.Equal(out, data) || ratio == nil || *ratio != (AspectRatio{30, 20}) {
			t.Errorf("%s under the limit: changed (%v) or ratio %v", name, err, ratio)
		}
	}
	// Over the limit: scaled and recompressed until it fits.
	noisy := image.NewNRGBA(image.Rect(0, 0, 600, 400))
	r := rand.New(rand.NewPCG(3, 4))
	for i := range noisy.Pix {
		noisy.Pix[i] = uint8(r.IntN(256)) | 3 // alpha never 0
	}
	var noisyBuf bytes.Buffer
	_ = png.Encode(&noisyBuf, noisy)
	const limit = 60_000
	out, mime, ratio, err := fitImage(noisyBuf.Bytes(), limit)
	if err != nil || mime != "image/jpeg" || len(out) > limit || ratio == nil || ratio.Width*400 != ratio.Height*600 {
		t.Errorf("over the limit (%d bytes): %v %s %d bytes %v", noisyBuf.Len(), err, mime, len(out), ratio)
	}
	if _, _, _, err := fitImage([]byte("<html>not an image</html>"), MaxBlobBytes); err == nil || !strings.Contains(err.Error(), "not an image") {
		t.Errorf("HTML accepted as an image: %v", err)
	}
	// Too large and undecodable (a truncated JPEG header padded out).
	junk := append([]byte{0xff, 0xd8, 0xff}, bytes.Repeat([]byte{0}, 100)...)
	if _, _, _, err := fitImage(junk, 50); err == nil {
		t.Error("an undecodable image over the limit was accepted")
	}
}

func TestScaleKeepsSizeAndFlattensAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 100, 50)) // fully transparent
	dst := scale(src, 10, 5)
	if dst.Bounds().Dx() != 10 || dst.Bounds().Dy() != 5 {
		t.Fatalf("size %v", dst.Bounds())
	}
	if c := dst.RGBAAt(3, 3); c != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("transparent pixels become %v, want white", c)
	}
}
