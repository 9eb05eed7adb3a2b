// Package titlecard draws a post's title card: a PNG with the campaign's
// name and colours and the post's title, for networks that show nothing
// without a picture (Instagram). The font is embedded, so every machine
// draws the same card.
package titlecard

import (
	"errors"
	"image/color"
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

// Draw returns the card as a PNG.
//
// SEAM (lead): the drawing is being written on branch "cards"; this body is
// replaced there. Channels may call it now.
func Draw(o Options) ([]byte, error) {
	return nil, errors.New("titlecard: not drawn yet")
}

// AltText is the card's alt text: "Title card: TITLE".
func AltText(title string) string { return "Title card: " + title }
