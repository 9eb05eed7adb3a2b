package threads

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // decoders for the pictures converted to PNG
	"image/png"

	_ "golang.org/x/image/webp"
)

// asJPEGOrPNG returns data as Threads takes it: JPEG and PNG as they are,
// a GIF (its first frame) or a WebP re-encoded as PNG ("Media
// specifications": JPEG and PNG are the supported formats), at most
// MaxImage bytes.
func asJPEGOrPNG(data []byte, contentType string) ([]byte, string, error) {
	switch contentType {
	case "image/jpeg", "image/png":
		return data, contentType, nil
	case "image/gif", "image/webp":
	default:
		return nil, "", fmt.Errorf("Threads takes JPEG and PNG pictures, this one is %s", contentType)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("the %s picture cannot be read to convert it to PNG for Threads: %v", contentType, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, "", fmt.Errorf("converting the picture to PNG: %v", err)
	}
	if buf.Len() > MaxImage {
		return nil, "", fmt.Errorf("the %s picture is over Threads' 8 MB once converted to PNG", contentType)
	}
	return buf.Bytes(), "image/png", nil
}
