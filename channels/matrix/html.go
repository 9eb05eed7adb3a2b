package matrix

import (
	"bytes"
	"errors"
	"html"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/crierhq/crier/channels/markdown"
)

// md renders a post's Markdown; raw HTML in it is left out (goldmark's
// safe default), and policy keeps of the rest only what Matrix allows.
var md = markdown.New(goldmark.WithExtensions(extension.Strikethrough, extension.Linkify))

// policy is the HTML the client-server specification allows in
// formatted_body (m.room.message msgtypes, "HTML"), less img: an image
// there must be an mxc:// URI, which a pure formatter cannot have.
var policy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "ul", "ol", "sup", "sub", "li",
		"b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div", "table", "thead", "tbody", "tr", "th", "td",
		"caption", "pre", "span", "details", "summary")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("https", "http", "mailto")
	p.RequireParseableURLs(true)
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+.#-]{1,20}$`)).OnElements("code")
	return p
}()

// renderHTML renders Markdown to the blocks of allowed HTML it makes.
func renderHTML(src string) []*xhtml.Node {
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		buf.Reset()
		buf.WriteString("<p>" + html.EscapeString(src) + "</p>")
	}
	clean := policy.Sanitize(buf.String())
	nodes, err := xhtml.ParseFragment(strings.NewReader(clean), &xhtml.Node{Type: xhtml.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil {
		return nil
	}
	var out []*xhtml.Node
	for _, n := range nodes {
		tidy(n)
		if n.Type == xhtml.TextNode {
			if strings.TrimSpace(n.Data) == "" {
				continue
			}
			n = para(n.Data)
		}
		out = append(out, n)
	}
	return out
}

// tidy makes n's white space mean what it does in a browser, for clients
// that show formatted_body's line breaks as they are: a line break inside
// a paragraph becomes a space, and the line breaks goldmark writes between
// list items and other blocks go. Code blocks keep theirs.
func tidy(n *xhtml.Node) {
	if n.DataAtom == atom.Pre {
		return
	}
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch {
		case c.Type == xhtml.TextNode && strings.TrimSpace(c.Data) == "" && holdsBlocks(n):
			n.RemoveChild(c)
		case c.Type == xhtml.TextNode:
			c.Data = strings.ReplaceAll(c.Data, "\n", " ")
		default:
			tidy(c)
		}
		c = next
	}
}

// holdsBlocks reports whether n's children are blocks, not text.
func holdsBlocks(n *xhtml.Node) bool {
	switch n.DataAtom {
	case atom.Ul, atom.Ol, atom.Blockquote, atom.Table, atom.Thead, atom.Tbody, atom.Tr, atom.Div, atom.Details:
		return true
	case atom.Li:
		return hasBlock(n)
	}
	return false
}

// para is a paragraph of text.
func para(text string) *xhtml.Node {
	p := &xhtml.Node{Type: xhtml.ElementNode, DataAtom: atom.P, Data: "p"}
	p.AppendChild(&xhtml.Node{Type: xhtml.TextNode, Data: text})
	return p
}

// render writes n as HTML.
func render(n *xhtml.Node) string {
	var b strings.Builder
	_ = xhtml.Render(&b, n)
	return b.String()
}

// spoil hides the text of block n behind a spoiler span with the reason:
// a span holds inline content only, so each block that holds text gets
// its own.
func spoil(n *xhtml.Node, reason string) {
	if n.Type != xhtml.ElementNode {
		return
	}
	switch n.DataAtom {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Td, atom.Th, atom.Summary:
		wrapChildren(n, reason)
		return
	case atom.Li:
		if !hasBlock(n) {
			wrapChildren(n, reason)
			return
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == xhtml.TextNode && strings.TrimSpace(c.Data) != "" {
			s := spoilerSpan(reason)
			n.InsertBefore(s, c)
			n.RemoveChild(c)
			s.AppendChild(c)
			c = s
			continue
		}
		spoil(c, reason)
	}
}

func spoilerSpan(reason string) *xhtml.Node {
	return &xhtml.Node{Type: xhtml.ElementNode, DataAtom: atom.Span, Data: "span",
		Attr: []xhtml.Attribute{{Key: "data-mx-spoiler", Val: reason}}}
}

func wrapChildren(n *xhtml.Node, reason string) {
	s := spoilerSpan(reason)
	for c := n.FirstChild; c != nil; c = n.FirstChild {
		n.RemoveChild(c)
		s.AppendChild(c)
	}
	n.AppendChild(s)
}

func hasBlock(n *xhtml.Node) bool {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		switch c.DataAtom {
		case atom.P, atom.Ul, atom.Ol, atom.Blockquote, atom.Pre, atom.Table, atom.Div, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
			return true
		}
	}
	return false
}

// textOf is block n as plain text: links keep their address, list items
// their bullet, blocks their line breaks.
func textOf(n *xhtml.Node) string {
	var b strings.Builder
	var walk func(n *xhtml.Node)
	walk = func(n *xhtml.Node) {
		switch {
		case n.Type == xhtml.TextNode:
			b.WriteString(n.Data)
			return
		case n.DataAtom == atom.Br:
			b.WriteString("\n")
			return
		case n.DataAtom == atom.Li:
			newline(&b)
			b.WriteString("• ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		switch n.DataAtom {
		case atom.A:
			if href := attr(n, "href"); href != "" && href != text(n) && "mailto:"+text(n) != href {
				b.WriteString(" (" + href + ")")
			}
		case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Pre, atom.Blockquote, atom.Tr, atom.Div:
			newline(&b)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

func newline(b *strings.Builder) {
	if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
		b.WriteString("\n")
	}
}

// text is the text n holds.
func text(n *xhtml.Node) string {
	if n.Type == xhtml.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

func attr(n *xhtml.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// composer makes the messages of one post: the first opens with the title
// and the content warning and ends with the link and tags; blocks of text
// fill messages up to the limits; a block over a whole message's room is
// cut into paragraphs of its plain text.
type composer struct {
	title, link, warning, tags string
}

// block is one block of the text, rendered once.
type block struct {
	html, plain string
}

var errNoRoom = errors.New("the title, content warning, link and tags alone are over a Matrix message's limits")

// compose returns the text messages, the first with the title.
func (c composer) compose(nodes []*xhtml.Node) ([]Message, error) {
	var msgs []Message
	var cur []block
	htmlLen, plainLen := 0, 0
	flush := func() {
		msgs = append(msgs, c.message(len(msgs) == 0, cur))
		cur, htmlLen, plainLen = nil, 0, 0
	}
	if !c.fits(true, 0, 0, 0) {
		return nil, errNoRoom
	}
	queue := make([]block, 0, len(nodes))
	for _, n := range nodes {
		queue = append(queue, c.block(n))
	}
	for len(queue) > 0 {
		b := queue[0]
		h, p := EncodedLen(b.html), EncodedLen(b.plain)
		if c.fits(len(msgs) == 0, htmlLen+h, plainLen+p, len(cur)+1) {
			cur, htmlLen, plainLen, queue = append(cur, b), htmlLen+h, plainLen+p, queue[1:]
			continue
		}
		if len(cur) > 0 {
			flush()
			continue
		}
		head, rest := c.cut(len(msgs) == 0, b.plain)
		queue[0] = head
		if rest != "" {
			queue = append([]block{head, c.block(para(rest))}, queue[1:]...)
		}
		h, p = EncodedLen(head.html), EncodedLen(head.plain)
		cur, htmlLen, plainLen, queue = append(cur, head), h, p, queue[1:]
		flush()
	}
	if len(cur) > 0 || len(msgs) == 0 {
		flush()
	}
	return msgs, nil
}

// block renders one block, behind a spoiler when the post has a warning.
func (c composer) block(n *xhtml.Node) block {
	plain := textOf(n)
	if c.warning != "" {
		spoil(n, c.warning)
	}
	return block{html: render(n), plain: plain}
}

// cut returns the longest paragraph of text's start that fits a message
// alone (at a space when there is one in its second half), and the rest.
func (c composer) cut(first bool, text string) (block, string) {
	lo, hi := 1, utf8.RuneCountInString(text)
	runes := []rune(text)
	mk := func(n int) block { return c.block(para(string(runes[:n]))) }
	for lo < hi {
		mid := (lo + hi + 1) / 2
		b := mk(mid)
		if c.fits(first, EncodedLen(b.html), EncodedLen(b.plain), 1) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	n := lo
	if sp := strings.LastIndexFunc(string(runes[:n]), func(r rune) bool { return r == ' ' || r == '\n' }); sp > 0 {
		if at := utf8.RuneCountInString(string(runes[:n])[:sp]); at > n/2 {
			n = at
		}
	}
	return mk(n), strings.TrimSpace(string(runes[n:]))
}

// fits reports whether a message with blocks of these encoded lengths
// keeps to both limits.
func (c composer) fits(first bool, htmlLen, plainLen, blocks int) bool {
	m := c.message(first, nil)
	plain := EncodedLen(m.Body)
	if c.warning == "" && blocks > 0 {
		plain += plainLen + blocks*EncodedLen("\n\n")
	}
	return EncodedLen(m.FormattedBody)+htmlLen <= MaxHTMLBytes && plain <= MaxBodyBytes
}

// message assembles one text message of blocks.
func (c composer) message(first bool, blocks []block) Message {
	var h strings.Builder
	var plain []string
	if first {
		if c.title != "" {
			h.WriteString("<p><strong>" + html.EscapeString(c.title) + "</strong></p>")
			plain = append(plain, c.title)
		}
		if c.warning != "" {
			h.WriteString("<p><strong>Content warning: " + html.EscapeString(c.warning) + "</strong></p>")
		}
	}
	if c.warning != "" {
		// The plain body is what notifications show: the text stays out
		// of it, as the specification asks of a spoiler's fallback.
		plain = append(plain, "Content warning: "+c.warning+" [the text is hidden as a spoiler]")
	}
	for _, b := range blocks {
		h.WriteString(b.html)
		if c.warning == "" {
			plain = append(plain, b.plain)
		}
	}
	if first {
		if c.link != "" {
			h.WriteString(`<p><a href="` + html.EscapeString(c.link) + `">Read more</a></p>`)
			plain = append(plain, c.link)
		}
		if c.tags != "" {
			h.WriteString("<p>" + html.EscapeString(c.tags) + "</p>")
			plain = append(plain, c.tags)
		}
	}
	return Message{MsgType: "m.text", Body: strings.Join(plain, "\n\n"), Format: htmlFormat, FormattedBody: h.String()}
}
