package facebook

import (
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows the post as the Page's followers see it: the text as
// written, the photo with its alt text, or the link's card below it.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	b, ok := p.Body.(Post)
	if !ok {
		return channels.FieldsCard(p)
	}
	var text []channels.Span
	for i, line := range strings.Split(b.Message, "\n") {
		if i > 0 {
			text = append(text, channels.Span{Style: channels.Break})
		}
		if line != "" {
			text = append(text, channels.Span{Text: line})
		}
	}
	m := channels.PreviewMessage{Style: channels.StylePost, Text: text, Count: utf8.RuneCountInString(b.Message), Limit: maxMessage}
	var card channels.PreviewCard
	if b.Photo != nil {
		m.Images = []channels.PreviewImage{{URL: b.Photo.URL, File: b.Photo.File, Alt: b.Photo.Alt}}
		card.Notes = append(card.Notes, "A photo post: Facebook shows no link card, so the link is written in the text.")
	} else if b.Link != "" {
		m.Embed = &channels.PreviewEmbed{Title: b.Link, URL: b.Link, Colour: "#1877f2", Footer: "Link card: Facebook draws it from the page's own title and picture"}
		card.Notes = append(card.Notes, "Below the text Facebook shows a card for "+b.Link+": its title and picture come from that page.")
	}
	card.Messages = []channels.PreviewMessage{m}
	return card
}
