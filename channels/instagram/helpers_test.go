package instagram_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"time"

	"github.com/crierhq/crier/channels/instagram"
	"github.com/crierhq/crier/titlecard"
)

// provider is the channel type with a stand-in title card (until the
// real drawing is merged) and quick container polls.
func provider() instagram.Provider {
	return instagram.Provider{Options: instagram.Options{DrawCard: drawCard, PollEvery: 5 * time.Millisecond}}
}

// drawCard stands in for titlecard.Draw: a square PNG in the card's
// background colour.
func drawCard(o titlecard.Options) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	bg := o.Background
	if bg == nil {
		bg = color.RGBA{0x1d, 0x3b, 0x53, 0xff}
	}
	for y := range 64 {
		for x := range 64 {
			img.Set(x, y, bg)
		}
	}
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}
