package telegram

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/crierhq/crier/channels/markdown"
)

// maxSource bounds the Markdown parsed for one message: a message holds
// at most 4,096 characters, parsing more only costs time.
const maxSource = 64 << 10

// maxURL is the longest address a link keeps (longer ones are text).
const maxURL = 2048

// tgMarkdown parses a post's Markdown (CommonMark with strikethrough and
// bare links; quotes and lists nested at most markdown.MaxDepth deep).
var tgMarkdown = markdown.New(goldmark.WithExtensions(extension.Strikethrough, extension.Linkify))

// fromMarkdown renders Markdown as Telegram HTML tokens: bold, italic,
// strike-through, code, links, quotes; headings in bold, lists with
// bullets; raw HTML and images dropped (an image's alt text kept). base,
// when set, resolves relative links.
func fromMarkdown(src string, base *url.URL) []tok {
	if len(src) > maxSource {
		end := maxSource
		for end > 0 && !utf8.RuneStart(src[end]) {
			end--
		}
		src = src[:end]
	}
	source := []byte(src)
	r := &mdRenderer{src: source, base: base}
	r.blocks(tgMarkdown.Parser().Parse(text.NewReader(source)), "\n\n")
	return r.toks
}

type mdRenderer struct {
	src   []byte
	base  *url.URL
	toks  []tok
	depth int  // tags open
	quote bool // inside a blockquote: Telegram does not nest them
	code  bool // inside code: no tags within
	lists int  // lists open
}

func (r *mdRenderer) text(s string) {
	if s == "" {
		return
	}
	if n := len(r.toks); n > 0 && r.toks[n-1].open == "" && !r.toks[n-1].close {
		r.toks[n-1].text += s
		return
	}
	r.toks = append(r.toks, plain(s))
}

// tagged renders body inside tag, or bare when tags may not nest there.
func (r *mdRenderer) tagged(t tok, body func()) {
	if r.code || r.depth >= markdown.MaxDepth {
		body()
		return
	}
	r.toks = append(r.toks, t)
	r.depth++
	body()
	r.depth--
	if last := r.toks[len(r.toks)-1]; last.open != "" {
		r.toks = r.toks[:len(r.toks)-1] // an empty tag: dropped
		return
	}
	r.toks = append(r.toks, closeTag())
}

// blocks renders n's child blocks separated by sep.
func (r *mdRenderer) blocks(n ast.Node, sep string) {
	first := true
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if _, ok := c.(*ast.HTMLBlock); ok {
			continue // raw HTML never reaches Telegram
		}
		if !first {
			r.text(sep)
		}
		first = false
		r.block(c)
	}
}

func (r *mdRenderer) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		r.inlines(n)
	case *ast.Heading:
		r.tagged(open("b"), func() { r.inlines(n) })
	case *ast.ThematicBreak:
		r.text("———")
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		var body strings.Builder
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			body.Write(seg.Value(r.src))
		}
		r.tagged(open("pre"), func() { r.text(strings.TrimRight(body.String(), "\n")) })
	case *ast.Blockquote:
		if r.quote {
			r.blocks(n, "\n")
			return
		}
		r.quote = true
		r.tagged(open("blockquote"), func() { r.blocks(n, "\n") })
		r.quote = false
	case *ast.List:
		indent := strings.Repeat("   ", r.lists) // a nested list is indented
		r.lists++
		defer func() { r.lists-- }()
		i := 0
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			if i > 0 {
				r.text("\n")
			}
			marker := "• "
			if n.IsOrdered() {
				marker = fmt.Sprintf("%d. ", n.Start+i)
			}
			r.text(indent + marker)
			r.blocks(item, "\n")
			i++
		}
	default:
		r.blocks(n, "\n\n")
	}
}

func (r *mdRenderer) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(c)
	}
}

func (r *mdRenderer) inline(n ast.Node) {
	switch n := n.(type) {
	case *ast.Text:
		v := n.Segment.Value(r.src)
		if !n.IsRaw() {
			v = unescape(v)
		}
		r.text(string(v))
		switch {
		case n.HardLineBreak():
			r.text("\n")
		case n.SoftLineBreak():
			r.text(" ")
		}
	case *ast.String:
		v := n.Value
		if !n.IsRaw() && !n.IsCode() {
			v = unescape(v)
		}
		r.text(string(v))
	case *ast.CodeSpan:
		r.tagged(open("code"), func() {
			r.code = true
			r.inlines(n)
			r.code = false
		})
	case *ast.Emphasis:
		tag := "i"
		if n.Level >= 2 {
			tag = "b"
		}
		r.tagged(open(tag), func() { r.inlines(n) })
	case *east.Strikethrough:
		r.tagged(open("s"), func() { r.inlines(n) })
	case *ast.Link:
		r.link(string(n.Destination), func() { r.inlines(n) })
	case *ast.Image:
		r.inlines(n) // its alt text: Telegram shows no pictures inline
	case *ast.AutoLink:
		label := string(n.Label(r.src))
		r.link(string(n.URL(r.src)), func() { r.text(label) })
	case *ast.RawHTML:
		// Dropped: only the text between tags is kept.
	default:
		r.inlines(n)
	}
}

// link renders label as a link to dest when dest is an http(s) address,
// else as text.
func (r *mdRenderer) link(dest string, label func()) {
	u, ok := safeURL(dest, r.base)
	if !ok {
		label()
		return
	}
	r.tagged(link(u), label)
}

// safeURL makes dest an absolute http(s) URL, or refuses it.
func safeURL(dest string, base *url.URL) (string, bool) {
	u, ok := markdown.WebURL(dest, base)
	if !ok {
		return "", false
	}
	s := u.String()
	return s, len(s) <= maxURL
}

func unescape(v []byte) []byte { return markdown.Unescape(v) }
