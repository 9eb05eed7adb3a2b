package instagram

import (
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows the post as Instagram will: the caption, within its
// 2,200 characters, and the picture with its alt text (the post's own, or
// the place of the title card Crier draws when it sends).
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	b, ok := p.Body.(Post)
	if !ok {
		return channels.FieldsCard(p)
	}
	var text []channels.Span
	for i, line := range strings.Split(b.Caption, "\n") {
		if i > 0 {
			text = append(text, channels.Span{Style: channels.Break})
		}
		if line != "" {
			text = append(text, channels.Span{Text: line})
		}
	}
	m := channels.PreviewMessage{Style: channels.StylePost, Text: text, Count: utf8.RuneCountInString(b.Caption), Limit: maxCaption}
	// The title card is drawn when the post is sent: the preview holds
	// its place, with the alt text Instagram gets. The payload's warnings,
	// shown above the card, say what a title card is and that the link
	// cannot be clicked.
	m.Images = []channels.PreviewImage{{URL: b.Image.URL, File: b.Image.File, Alt: b.Image.Alt}}
	return channels.PreviewCard{Messages: []channels.PreviewMessage{m}}
}
