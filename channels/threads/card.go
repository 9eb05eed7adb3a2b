package threads

import (
	"net/url"
	"strings"
	"unicode/utf16"

	"github.com/crierhq/crier/channels"
)

// threadsBlack is Threads' own ink, for the link card's edge.
const threadsBlack = "#000000"

// PreviewCard shows the chain as the account's followers see it: the
// first post with its topic tag, its picture (alt text) or its link card,
// then the replies; the text behind a spoiler is hidden until clicked.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	chain, ok := p.Body.(Chain)
	if !ok {
		return channels.FieldsCard(p)
	}
	var card channels.PreviewCard
	for _, part := range chain {
		m := channels.PreviewMessage{Style: channels.StylePost, Text: spans(part), Count: Count(part.Text), Limit: MaxText}
		if part.TopicTag != "" {
			tag := channels.Span{Style: channels.Link, Text: part.TopicTag, URL: "https://www.threads.net/search?q=" + url.QueryEscape(part.TopicTag)}
			m.Text = append([]channels.Span{{Text: "Topic: "}, tag, {Style: channels.Break}}, m.Text...)
		}
		if part.Image != nil {
			m.Images = []channels.PreviewImage{{URL: part.Image.URL, File: part.Image.File, Alt: part.Image.Alt, Spoiler: part.Image.Spoiler}}
			if part.Image.Spoiler {
				card.Notes = append(card.Notes, "The picture is blurred behind Threads' spoiler until tapped.")
			}
		}
		if part.Link != "" {
			m.Embed = &channels.PreviewEmbed{Title: part.Link, URL: part.Link, Colour: threadsBlack, Footer: "Link attachment: Threads draws the card from the page's own title and picture"}
			card.Notes = append(card.Notes, "Below the first post Threads shows a card for "+part.Link+": its title and picture come from that page.")
		}
		card.Messages = append(card.Messages, m)
	}
	if len(chain) > 1 {
		card.Notes = append(card.Notes, "A chain of posts: each post after the first is a reply to the one before.")
	}
	return card
}

// spans is a post's text as lines, the part behind a spoiler hidden.
func spans(part Part) []channels.Span {
	text, hidden := part.Text, ""
	if sp := part.Spoiler; sp != nil {
		u := utf16.Encode([]rune(text))
		if sp.Offset+sp.Length <= len(u) {
			text, hidden = string(utf16.Decode(u[:sp.Offset])), string(utf16.Decode(u[sp.Offset:sp.Offset+sp.Length]))
		}
	}
	out := lines(text)
	if hidden != "" {
		out = append(out, channels.Span{Style: channels.Spoiler, Spans: lines(hidden)})
	}
	return out
}

func lines(s string) []channels.Span {
	var out []channels.Span
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if i > 0 {
			out = append(out, channels.Span{Style: channels.Break})
		}
		if line != "" {
			out = append(out, channels.Span{Text: line})
		}
	}
	return out
}
