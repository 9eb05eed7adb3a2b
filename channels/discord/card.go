package discord

import (
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
)

// PreviewCard shows the message as Discord does: its Markdown formatted,
// the embed with its colour, author, title, fields and picture, and a
// picture behind a content warning blurred until clicked.
func (s settings) PreviewCard(p channels.Payload) channels.PreviewCard {
	m, ok := p.Body.(Message)
	if !ok {
		return channels.FieldsCard(p)
	}
	msg := channels.PreviewMessage{Style: channels.StyleChat, Text: PreviewSpans(m.Content)}
	e := &channels.PreviewEmbed{Colour: "#5865f2"}
	// A picture uploaded with the message (a local file, or any picture
	// behind a content warning) shows as its attachment does.
	var attached *channels.PreviewImage
	if len(m.Attachments) > 0 && len(m.Uploads) > 0 {
		attached = &channels.PreviewImage{URL: m.Uploads[0].URL, File: m.Uploads[0].File, Alt: m.Attachments[0].Description,
			Spoiler: strings.HasPrefix(m.Attachments[0].Filename, spoilerPrefix)}
	}
	if len(m.Embeds) > 0 {
		em := m.Embeds[0]
		e.Title, e.Description = em.Title, PreviewSpans(em.Description)
		if linkable(em.URL) {
			e.URL = em.URL
		}
		if em.Color != nil {
			e.Colour = "#" + hex6(*em.Color)
		}
		if em.Author != nil {
			e.Author = em.Author.Name
		}
		if em.Footer != nil {
			e.Footer = em.Footer.Text
		}
		for _, f := range em.Fields {
			e.Fields = append(e.Fields, channels.PreviewField{Name: f.Name, Value: f.Value})
		}
		if em.Image != nil && !strings.HasPrefix(em.Image.URL, "attachment://") {
			img := channels.PreviewImage{URL: em.Image.URL, Alt: em.Image.Description}
			if attached != nil {
				img.Spoiler = attached.Spoiler
			}
			attached = &img
		}
	}
	switch {
	case attached == nil:
	case attached.Spoiler:
		msg.Images = []channels.PreviewImage{*attached}
	default:
		e.Image = attached
	}
	msg.Embed = e
	return channels.PreviewCard{Messages: []channels.PreviewMessage{msg}}
}

func hex6(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b)
}

// linkable admits only http(s) addresses as links.
func linkable(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// PreviewSpans reads Discord message Markdown as Discord renders it: bold,
// italics, underline, strike-through, inline code and code blocks, quotes,
// headings, masked links [text](url) and bare links, and spoilers ||…||.
// Only http(s) addresses become links. An unmatched marker is looked for to
// the end of its line, which Discord's limits (4,096 characters) bound.
func PreviewSpans(md string) []channels.Span {
	var out []channels.Span
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "```") {
			// A code block runs to the closing fence, shown as it is.
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			out = append(out, channels.Span{Style: channels.CodeBlock, Text: strings.Join(lines[i+1:min(j, len(lines))], "\n")})
			i = j
			continue
		}
		switch {
		case strings.HasPrefix(line, "> "):
			out = append(out, channels.Span{Style: channels.Quote, Spans: inlineSpans(line[2:])})
		case strings.HasPrefix(line, "### "), strings.HasPrefix(line, "## "), strings.HasPrefix(line, "# "):
			n := strings.Index(line, " ")
			out = append(out, channels.Span{Style: channels.Heading, Level: n, Spans: inlineSpans(line[n+1:])})
		default:
			out = append(out, inlineSpans(line)...)
			if i < len(lines)-1 {
				out = append(out, channels.Span{Style: channels.Break})
			}
		}
	}
	return out
}

// markers are Discord's inline markers, longest first, with their style.
var markers = []struct {
	marker string
	style  channels.SpanStyle
}{
	{"||", channels.Spoiler}, {"**", channels.Bold}, {"__", channels.Underline}, {"~~", channels.Strike},
	{"*", channels.Italic}, {"_", channels.Italic}, {"`", channels.Code},
}

// inlineSpans reads one line's inline Markdown.
func inlineSpans(s string) []channels.Span {
	var out []channels.Span
	text := func(t string) {
		if n := len(out); n > 0 && out[n-1].Style == "" && out[n-1].Spans == nil {
			out[n-1].Text += t
			return
		}
		out = append(out, channels.Span{Text: t})
	}
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && isMarkdownPunct(s[i+1]) {
			text(s[i+1 : i+2])
			i += 2
			continue
		}
		if sp, n, ok := markedSpan(s[i:]); ok {
			out = append(out, sp)
			i += n
			continue
		}
		if sp, n, ok := linkSpan(s[i:]); ok {
			out = append(out, sp)
			i += n
			continue
		}
		text(s[i : i+1])
		i++
	}
	return out
}

// markedSpan reads a marked span at the start of s (up to its closing
// marker), reporting how much of s it took.
func markedSpan(s string) (channels.Span, int, bool) {
	for _, m := range markers {
		if !strings.HasPrefix(s, m.marker) {
			continue
		}
		end := closingMarker(s[len(m.marker):], m.marker)
		if end <= 0 {
			return channels.Span{}, 0, false
		}
		inner := s[len(m.marker) : len(m.marker)+end]
		sp := channels.Span{Style: m.style}
		if m.style == channels.Code {
			sp.Text = inner
		} else {
			sp.Spans = inlineSpans(inner)
		}
		return sp, 2*len(m.marker) + end, true
	}
	return channels.Span{}, 0, false
}

// closingMarker is where marker next occurs in s outside backslash
// escapes, or -1.
func closingMarker(s, marker string) int {
	for i := 0; i+len(marker) <= len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], marker) {
			return i
		}
	}
	return -1
}

// linkSpan reads [text](url), <url> or a bare http(s) address at the start
// of s.
func linkSpan(s string) (channels.Span, int, bool) {
	link := func(u string, label []channels.Span) channels.Span {
		return channels.Span{Style: channels.Link, URL: u, Spans: label}
	}
	switch {
	case s[0] == '[':
		mid := closingMarker(s[1:], "](")
		if mid < 0 {
			return channels.Span{}, 0, false
		}
		end := strings.IndexByte(s[mid+3:], ')')
		u := ""
		if end >= 0 {
			u = s[mid+3 : mid+3+end]
		}
		if end < 0 || !linkable(u) {
			return channels.Span{}, 0, false
		}
		return link(u, inlineSpans(s[1:1+mid])), mid + 4 + end, true
	case s[0] == '<':
		end := strings.IndexByte(s, '>')
		if end < 0 || !linkable(s[1:end]) {
			return channels.Span{}, 0, false
		}
		return link(s[1:end], channels.PlainText(s[1:end])), end + 1, true
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		end := strings.IndexAny(s, " \t<>")
		if end < 0 {
			end = len(s)
		}
		u := strings.TrimRight(s[:end], ".,;:!?)")
		if !linkable(u) {
			return channels.Span{}, 0, false
		}
		return link(u, channels.PlainText(u)), len(u), true
	}
	return channels.Span{}, 0, false
}

func isMarkdownPunct(c byte) bool { return strings.IndexByte("\\*_~`|[]()<>#-+.!>", c) >= 0 }
