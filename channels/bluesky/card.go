package bluesky

import (
	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows each post of the thread with its picture, counted in
// graphemes as Bluesky counts them.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	parts, ok := p.Body.(Parts)
	if !ok {
		return channels.FieldsCard(p)
	}
	var card channels.PreviewCard
	for _, part := range parts {
		text := part.Record.Text
		m := channels.PreviewMessage{Style: channels.StylePost, Text: channels.PlainText(text), Count: uniseg.GraphemeClusterCount(text), Limit: MaxGraphemes}
		if part.Image != nil {
			m.Images = []channels.PreviewImage{{URL: part.Image.URL, File: part.Image.File, Alt: part.Image.Alt}}
		}
		card.Messages = append(card.Messages, m)
	}
	return card
}
