package console

import (
	"html"
	"html/template"
	"path/filepath"
	"strings"

	"github.com/crierhq/crier/internal/media"
)

// discordHTML shows Discord message Markdown as Discord renders it: bold,
// italics, underline, strike-through, inline code and code blocks, quotes,
// headings, masked links [text](url) and bare links, and spoilers ||…||
// blurred until clicked or toggled with the keyboard (CSS only: the
// console's policy runs no inline script). Every piece of text is escaped;
// only http(s) addresses become links. An unmatched marker is looked for to
// the end of its line, which Discord's limits (4,096 characters) bound.
func discordHTML(md string) template.HTML {
	var b strings.Builder
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.HasPrefix(line, "```") {
			// A code block runs to the closing fence, shown as it is.
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				j++
			}
			b.WriteString(`<pre class="dc-code">` + html.EscapeString(strings.Join(lines[i+1:min(j, len(lines))], "\n")) + "</pre>")
			i = j
			continue
		}
		switch {
		case strings.HasPrefix(line, "> "):
			b.WriteString(`<span class="dc-quote">` + discordInline(line[2:]) + "</span>")
		case strings.HasPrefix(line, "### "), strings.HasPrefix(line, "## "), strings.HasPrefix(line, "# "):
			n := strings.Index(line, " ")
			b.WriteString(`<span class="dc-h dc-h` + itoa(n) + `">` + discordInline(line[n+1:]) + "</span>")
		default:
			b.WriteString(discordInline(line))
			if i < len(lines)-1 {
				b.WriteString("<br>")
			}
		}
	}
	return template.HTML(b.String()) // built from escaped text and checked addresses only
}

// discordSpans are Discord's inline markers, longest first, with the
// element each becomes.
var discordSpans = []struct{ marker, open, close string }{
	{"||", `<label class="dc-spoiler"><input type="checkbox" aria-label="Spoiler: reveal"><span>`, "</span></label>"},
	{"**", "<strong>", "</strong>"},
	{"__", "<u>", "</u>"},
	{"~~", "<s>", "</s>"},
	{"*", "<em>", "</em>"},
	{"_", "<em>", "</em>"},
	{"`", "<code>", "</code>"},
}

// discordInline renders one line's inline Markdown.
func discordInline(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && isMarkdownPunct(s[i+1]) {
			b.WriteString(html.EscapeString(s[i+1 : i+2]))
			i += 2
			continue
		}
		if out, n, ok := discordSpan(s[i:]); ok {
			b.WriteString(out)
			i += n
			continue
		}
		if out, n, ok := discordLink(s[i:]); ok {
			b.WriteString(out)
			i += n
			continue
		}
		b.WriteString(html.EscapeString(s[i : i+1]))
		i++
	}
	return b.String()
}

// discordSpan renders a marked span at the start of s (up to its closing
// marker, not escaped), reporting how much of s it took.
func discordSpan(s string) (string, int, bool) {
	for _, m := range discordSpans {
		if !strings.HasPrefix(s, m.marker) {
			continue
		}
		end := closingMarker(s[len(m.marker):], m.marker)
		if end <= 0 {
			return "", 0, false
		}
		inner := s[len(m.marker) : len(m.marker)+end]
		body := discordInline(inner)
		if m.marker == "`" {
			body = html.EscapeString(inner)
		}
		return m.open + body + m.close, 2*len(m.marker) + end, true
	}
	return "", 0, false
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

// discordLink renders [text](url), <url> or a bare http(s) address at the
// start of s.
func discordLink(s string) (string, int, bool) {
	a := func(u, label string) string {
		return `<a href="` + html.EscapeString(u) + `" rel="noopener noreferrer">` + label + "</a>"
	}
	switch {
	case s[0] == '[':
		mid := closingMarker(s[1:], "](")
		if mid < 0 {
			return "", 0, false
		}
		end := strings.IndexByte(s[mid+3:], ')')
		u := ""
		if end >= 0 {
			u = s[mid+3 : mid+3+end]
		}
		if end < 0 || !safeURL(u) {
			return "", 0, false
		}
		return a(u, discordInline(s[1:1+mid])), mid + 4 + end, true
	case s[0] == '<':
		end := strings.IndexByte(s, '>')
		if end < 0 || !safeURL(s[1:end]) {
			return "", 0, false
		}
		return a(s[1:end], html.EscapeString(s[1:end])), end + 1, true
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		end := strings.IndexAny(s, " \t<>")
		if end < 0 {
			end = len(s)
		}
		u := strings.TrimRight(s[:end], ".,;:!?)")
		if !safeURL(u) {
			return "", 0, false
		}
		return a(u, html.EscapeString(u)), len(u), true
	}
	return "", 0, false
}

func isMarkdownPunct(c byte) bool { return strings.IndexByte("\\*_~`|[]()<>#-+.!>", c) >= 0 }

// discordAttachment is the picture a Discord message uploads (a local file,
// or any image behind a content warning, as a spoiler) as the preview shows
// it: where it comes from, its alt text and whether it is blurred.
func discordAttachment(atts []struct{ Filename, Description string }, ups []struct{ URL, File string }, chosen string) (template.URL, string, bool) {
	if len(atts) == 0 || len(ups) == 0 {
		return "", "", false
	}
	src := ups[0].URL
	if src == "" {
		if name := filepath.Base(ups[0].File); media.ValidName(name) {
			src = media.Ref(name)
		}
	}
	return imageURL(chosen, src), atts[0].Description, strings.HasPrefix(atts[0].Filename, "SPOILER_")
}
