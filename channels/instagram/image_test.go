package instagram

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"strings"
	"testing"
)

// withOrientation inserts an Exif APP1 segment with Orientation o after a
// JPEG's SOI, as a phone writes it.
func withOrientation(jpg []byte, o uint16) []byte {
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x01")
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3)
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, o)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(payload)))
	seg = append(seg, payload...)
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

func encode(t *testing.T, img image.Image, asPNG bool) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	if asPNG {
		err = png.Encode(&b, img)
	} else {
		err = jpeg.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestHugePictureIsRefusedBeforeDecoding: a PNG of a few hundred KB that
// says 8000×6000 is refused by its header, naming its size, without
// decoding it (the old code allocated hundreds of MB).
func TestHugePictureIsRefusedBeforeDecoding(t *testing.T) {
	data := encode(t, image.NewGray(image.Rect(0, 0, 8000, 6000)), true)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := toJPEG(data, "image/png")
	runtime.ReadMemStats(&after)
	if !isPermanent(err) || !strings.Contains(err.Error(), "8000×6000") {
		t.Fatalf("want a permanent error naming the size, got %v", err)
	}
	if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 16 {
		t.Errorf("refusing it allocated %d MB", mb)
	}
}

// TestWidePictureIsScaledToInstagramsWidth: a 3000×2000 PNG goes out
// 1440 pixels wide, Instagram's widest.
func TestWidePictureIsScaledToInstagramsWidth(t *testing.T) {
	t.Parallel()
	out, err := toJPEG(encode(t, image.NewRGBA(image.Rect(0, 0, 3000, 2000)), true), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(out))
	if err != nil || cfg.Width != 1440 || cfg.Height != 960 {
		t.Fatalf("%dx%d, %v; want 1440x960", cfg.Width, cfg.Height, err)
	}
}

// TestPhonePortraitIsTurned: a phone's 4:3 photo with EXIF Orientation 6
// is a 3:4 portrait: it is turned, then padded to 4:5, its left edge on
// top.
func TestPhonePortraitIsTurned(t *testing.T) {
	t.Parallel()
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			c := color.RGBA{0, 0, 255, 255}
			if x < 200 {
				c = color.RGBA{255, 0, 0, 255}
			}
			img.Set(x, y, c)
		}
	}
	data := withOrientation(encode(t, img, false), 6)
	if o := exifOrientation(data); o != 6 {
		t.Fatalf("orientation %d", o)
	}
	out, err := toJPEG(data, "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != 320 || b.Dy() != 400 {
		t.Fatalf("%v, want 320x400 (3:4 turned, padded to 4:5)", b)
	}
	if r, _, bl, _ := got.At(160, 50).RGBA(); r>>8 < 200 || bl>>8 > 60 {
		t.Errorf("top is not the picture's left (red): %d %d", r>>8, bl>>8)
	}
	if r, _, bl, _ := got.At(160, 350).RGBA(); bl>>8 < 200 || r>>8 > 60 {
		t.Errorf("bottom is not the picture's right (blue): %d %d", r>>8, bl>>8)
	}
}

// TestOrientationsTurnAsEXIFSays: each orientation puts the stored
// picture's top-left pixel where a viewer shows it.
func TestOrientationsTurnAsEXIFSays(t *testing.T) {
	t.Parallel()
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	src.Set(0, 0, color.RGBA{255, 0, 0, 255})
	want := map[int]image.Point{1: {0, 0}, 2: {2, 0}, 3: {2, 1}, 4: {0, 1}, 5: {0, 0}, 6: {1, 0}, 7: {1, 2}, 8: {0, 2}}
	for o, at := range want {
		got := orientate(src, o)
		if r, _, _, _ := got.At(at.X, at.Y).RGBA(); r>>8 != 255 {
			t.Errorf("orientation %d: top-left pixel not at %v", o, at)
		}
	}
}

// FuzzExifOrientation: any input is read within its bounds, 1 to 8.
func FuzzExifOrientation(f *testing.F) {
	jpg := withOrientation([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 6)
	f.Add(jpg)
	f.Add(withOrientation([]byte{0xFF, 0xD8, 0xFF, 0xD9}, 9))
	f.Add([]byte{0xFF, 0xD8})
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := exifOrientation(data); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
