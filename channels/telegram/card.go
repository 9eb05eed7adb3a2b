package telegram

import (
	"html"
	"strings"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows the messages as Telegram does: the formatted text
// (bold, italics, links, quotes; the text behind a content warning as a
// spoiler), the photo above its caption, blurred behind a warning, and
// each text's length against Telegram's limit.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	b, ok := p.Body.(Messages)
	if !ok {
		return channels.FieldsCard(p)
	}
	var card channels.PreviewCard
	for _, m := range b.Messages {
		pm := channels.PreviewMessage{Style: channels.StyleChat, Text: PreviewSpans(m.body()), Count: visibleLength(m.body()), Limit: maxText}
		if m.Photo != nil {
			pm.Limit = maxCaption
			pm.Images = []channels.PreviewImage{{URL: m.Photo.URL, File: m.Photo.File, Alt: m.Photo.Alt, Spoiler: m.HasSpoiler}}
		}
		card.Messages = append(card.Messages, pm)
	}
	if len(b.Messages) > 1 {
		card.Notes = append(card.Notes, "The text is longer than a photo's caption: the rest goes out as a reply to the photo.")
	}
	return card
}

// PreviewSpans reads the Telegram HTML Crier writes back into spans.
// Unknown tags are shown as their text.
func PreviewSpans(s string) []channels.Span {
	root := &channels.Span{}
	stack := []*channels.Span{root}
	top := func() *channels.Span { return stack[len(stack)-1] }
	addText := func(t string) {
		for i, line := range strings.Split(html.UnescapeString(t), "\n") {
			if i > 0 {
				top().Spans = append(top().Spans, channels.Span{Style: channels.Break})
			}
			if line != "" {
				top().Spans = append(top().Spans, channels.Span{Text: line})
			}
		}
	}
	styles := map[string]channels.SpanStyle{"b": channels.Bold, "i": channels.Italic, "s": channels.Strike, "u": channels.Underline,
		"code": channels.Code, "pre": channels.CodeBlock, "blockquote": channels.Quote, "tg-spoiler": channels.Spoiler, "a": channels.Link}
	for s != "" {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			addText(s)
			break
		}
		addText(s[:lt])
		gt := strings.IndexByte(s[lt:], '>')
		if gt < 0 {
			addText(s[lt:])
			break
		}
		tag := s[lt+1 : lt+gt]
		s = s[lt+gt+1:]
		if strings.HasPrefix(tag, "/") {
			if len(stack) > 1 {
				done := top()
				stack = stack[:len(stack)-1]
				top().Spans = append(top().Spans, flatten(*done))
			}
			continue
		}
		name, attrs, _ := strings.Cut(tag, " ")
		sp := &channels.Span{Style: styles[name]}
		if name == "a" {
			href := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(attrs), `href="`), `"`)
			sp.URL = html.UnescapeString(href)
		}
		stack = append(stack, sp)
	}
	for len(stack) > 1 {
		done := top()
		stack = stack[:len(stack)-1]
		top().Spans = append(top().Spans, flatten(*done))
	}
	return root.Spans
}

// flatten gives code spans their Text, as the console shows them.
func flatten(sp channels.Span) channels.Span {
	if sp.Style != channels.Code && sp.Style != channels.CodeBlock {
		return sp
	}
	var b strings.Builder
	for _, c := range sp.Spans {
		if c.Style == channels.Break {
			b.WriteByte('\n')
		}
		b.WriteString(c.Text)
	}
	return channels.Span{Style: sp.Style, Text: b.String()}
}

// visibleLength is an HTML text's length as Telegram counts it: its text
// after entity parsing, in UTF-16 code units.
func visibleLength(s string) int {
	var b strings.Builder
	for s != "" {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:lt])
		gt := strings.IndexByte(s[lt:], '>')
		if gt < 0 {
			break
		}
		s = s[lt+gt+1:]
	}
	return units(html.UnescapeString(b.String()))
}
