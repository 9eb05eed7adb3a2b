// Package plaintext provides the plain-text helpers the short-text channels
// (Mastodon, Bluesky) share: Markdown to plain text, paragraphs joined and
// white space normalised.
package plaintext

import (
	"regexp"
	"strings"

	"github.com/yuin/goldmark/ast"

	"github.com/crierhq/crier/channels/markdown"
	"github.com/crierhq/crier/post"
)

// FromMarkdown turns a Markdown body into the plain text a short-text
// channel can carry: paragraphs separated by blank lines, link text without
// its target (the post links to the full story), images and raw HTML
// dropped.
// Quotes and lists nest at most markdown.MaxDepth deep.
func FromMarkdown(md string) string {
	src := []byte(md)
	doc := markdown.Parse(src)
	var blocks []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			blocks = append(blocks, s)
		}
		cur.Reset()
	}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n := n.(type) {
		case *ast.Paragraph, *ast.Heading, *ast.TextBlock:
			if !entering {
				flush()
			}
		case *ast.ListItem:
			if entering {
				flush()
				cur.WriteString("• ")
			}
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			if entering {
				lines := n.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					cur.Write(seg.Value(src))
				}
				flush()
			}
			return ast.WalkSkipChildren, nil
		case *ast.Image, *ast.RawHTML, *ast.HTMLBlock:
			return ast.WalkSkipChildren, nil
		case *ast.AutoLink:
			if entering {
				cur.Write(n.URL(src))
			}
			return ast.WalkSkipChildren, nil
		case *ast.CodeSpan:
			if entering {
				for c := n.FirstChild(); c != nil; c = c.NextSibling() {
					if t, ok := c.(*ast.Text); ok {
						cur.Write(t.Segment.Value(src))
					}
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.Text:
			if entering {
				cur.Write(n.Segment.Value(src))
				switch {
				case n.HardLineBreak():
					cur.WriteString("\n")
				case n.SoftLineBreak():
					cur.WriteString(" ")
				}
			}
		case *ast.String:
			if entering {
				cur.Write(n.Value)
			}
		}
		return ast.WalkContinue, nil
	})
	flush()
	return strings.Join(blocks, "\n\n")
}

// Join puts non-empty blocks together as paragraphs.
func Join(blocks ...string) string {
	var out []string
	for _, b := range blocks {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return strings.Join(out, "\n\n")
}

var blankLines = regexp.MustCompile(`\n[ \t]*\n\s*`)

// Normalise trims the text and collapses runs of blank lines, as the
// channels show them.
func Normalise(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.TrimSpace(blankLines.ReplaceAllString(s, "\n\n"))
}

// OneLine collapses white space, for titles and content warnings.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Texts returns what a short-text channel says of p on the named instance:
// the title on one line, the prose (the organiser's own text for that
// channel, which replaces the title too; else the body; else the summary) as
// plain text, and the post's link, empty when that text already has it.
// Where that does not fit, the channel tries SummaryTexts.
func Texts(p post.Post, instance string) (title, prose, link string) {
	title = OneLine(p.Title)
	if o := strings.TrimSpace(p.TextFor(instance)); o != "" {
		title, prose = "", Normalise(o)
	} else if prose = Normalise(FromMarkdown(p.Body)); prose == "" {
		prose = Normalise(FromMarkdown(strings.TrimSpace(p.Summary)))
	}
	return title, prose, linkBesides(p, prose)
}

// SummaryTexts is Texts with the post's summary as the prose: what a
// short-text channel says where the whole text does not fit, as the console
// promises ("used where the whole text does not fit"). ok is false when
// there is no summary to use: none, or the organiser wrote the channel's
// own text.
func SummaryTexts(p post.Post, instance string) (title, prose, link string, ok bool) {
	s := strings.TrimSpace(p.Summary)
	if s == "" || strings.TrimSpace(p.TextFor(instance)) != "" {
		return "", "", "", false
	}
	prose = Normalise(FromMarkdown(s))
	return OneLine(p.Title), prose, linkBesides(p, prose), true
}

// linkBesides is the post's link, or "" when the prose already has it.
func linkBesides(p post.Post, prose string) (link string) {
	link = strings.TrimSpace(p.Link)
	if link != "" && strings.Contains(prose, link) {
		link = "" // the organiser placed it in their text
	}
	return link
}
