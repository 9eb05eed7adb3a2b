package console

import (
	"html"
	"html/template"
	"strconv"
	"strings"

	"github.com/crierhq/crier/channels"
)

// spansHTML shows a card's text as its network does (channels.Span): plain
// text as written, formatted text (Discord's Markdown) with its styles, and
// spoilers blurred until clicked or toggled with the keyboard (CSS only:
// the console's policy runs no inline script). Every piece of text is
// escaped here, whatever the channel sent; only http(s) addresses become
// links.
func spansHTML(spans []channels.Span) template.HTML {
	var b strings.Builder
	writeSpans(&b, spans)
	return template.HTML(b.String()) // built from escaped text and checked addresses only
}

// spanTags are the elements of the styles that wrap their spans.
var spanTags = map[channels.SpanStyle][2]string{
	channels.Bold:      {"<strong>", "</strong>"},
	channels.Italic:    {"<em>", "</em>"},
	channels.Underline: {"<u>", "</u>"},
	channels.Strike:    {"<s>", "</s>"},
	channels.Quote:     {`<span class="dc-quote">`, "</span>"},
	channels.Spoiler:   {`<label class="dc-spoiler"><input type="checkbox" aria-label="Spoiler: reveal"><span>`, "</span></label>"},
}

// writeInner writes a span's content: its spans, or its text when it has
// none (channels.Span's contract).
func writeInner(b *strings.Builder, sp channels.Span) {
	if len(sp.Spans) == 0 {
		b.WriteString(html.EscapeString(sp.Text))
		return
	}
	writeSpans(b, sp.Spans)
}

func writeSpans(b *strings.Builder, spans []channels.Span) {
	for _, sp := range spans {
		switch sp.Style {
		case channels.Break:
			b.WriteString("<br>")
		case channels.Code:
			b.WriteString("<code>" + html.EscapeString(sp.Text) + "</code>")
		case channels.CodeBlock:
			b.WriteString(`<pre class="dc-code">` + html.EscapeString(sp.Text) + "</pre>")
		case channels.Heading:
			b.WriteString(`<span class="dc-h dc-h` + strconv.Itoa(min(max(sp.Level, 1), 3)) + `">`)
			writeInner(b, sp)
			b.WriteString("</span>")
		case channels.Link:
			if !safeURL(sp.URL) {
				writeInner(b, sp)
				continue
			}
			b.WriteString(`<a href="` + html.EscapeString(sp.URL) + `" rel="noopener noreferrer">`)
			writeInner(b, sp)
			b.WriteString("</a>")
		default:
			tags, styled := spanTags[sp.Style]
			b.WriteString(tags[0])
			if !styled || len(sp.Spans) == 0 {
				b.WriteString(html.EscapeString(sp.Text))
			}
			writeSpans(b, sp.Spans)
			b.WriteString(tags[1])
		}
	}
}
