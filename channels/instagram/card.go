package instagram

import (
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows the post as Instagram shows it: the picture first
// (the post's own with its alt text, or the title card Crier draws), the
// caption below it, and, in words, that the link in it cannot be
// clicked.
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
	var card channels.PreviewCard
	if c := b.Image.Card; c != nil {
		m.Embed = &channels.PreviewEmbed{Author: c.Campaign, Title: c.Title, Colour: orDefault(c.Accent, "#e1306c"),
			Footer: "Title card: a square picture Crier draws in the campaign's colours. Alt text: " + b.Image.Alt}
		card.Notes = append(card.Notes, "This post has no picture, and Instagram shows nothing without one: it gets the title card shown here, described to screen readers as \""+b.Image.Alt+"\".")
	} else {
		m.Images = []channels.PreviewImage{{URL: b.Image.URL, File: b.Image.File, Alt: b.Image.Alt}}
	}
	card.Notes = append(card.Notes, "Links in captions are not clickable on Instagram: people must copy the address written in the caption.")
	card.Messages = []channels.PreviewMessage{m}
	return card
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
