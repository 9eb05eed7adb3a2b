package feed

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/JohannesKaufmann/html-to-markdown/v2/converter"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/base"
	"github.com/JohannesKaufmann/html-to-markdown/v2/plugin/commonmark"
	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/crierhq/crier/channels/markdown"
	"github.com/crierhq/crier/contentfetch"
)

// converter turns untrusted feed HTML into safe Markdown and plain text. One
// is made per parsed document; it is not shared between goroutines.
type htmlConverter struct {
	policy *bluemonday.Policy
	md     *converter.Converter
	// inline holds the src of every <img> the last markdown call saw, as
	// written: gofeed offers the first of them as the item's image, which
	// must pass the same test as any inline picture.
	inline map[string]bool
}

func newHTMLConverter() *htmlConverter {
	return &htmlConverter{
		policy: sanitiser(),
		md: converter.NewConverter(converter.WithPlugins(
			base.NewBasePlugin(),
			commonmark.NewCommonmarkPlugin(),
		)),
	}
}

// sanitiser is bluemonday's UGC policy with any alt text kept: the UGC
// policy empties an alt with a colon, question mark, percent sign or
// ampersand ("Chart: victims 2010-2024"), and alt text is for people who
// cannot see the picture. The value is escaped on output like any text.
func sanitiser() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("alt").OnElements("img")
	return p
}

// image is the first picture found in an item's HTML.
type image struct{ URL, Alt string }

// markdown sanitises src with bluemonday's UGC policy, resolves relative
// links and images against base, and converts the result to Markdown. It
// also returns the first image that looks like a picture (see
// contentfetch.LooksLikeImage), already resolved. An <img> whose relative
// address names no picture (`<img src=x onerror=…>`) is dropped rather than
// resolved into a page address.
func (c *htmlConverter) markdown(src string, base *url.URL) (string, *image, error) {
	c.inline = nil
	if strings.TrimSpace(src) == "" {
		return "", nil, nil
	}
	clean := c.policy.Sanitize(textToHTML(src))
	doc, err := html.Parse(strings.NewReader(clean))
	if err != nil {
		return "", nil, fmt.Errorf("reading item HTML: %w", err)
	}
	var first *image
	var drop []*html.Node
	c.inline = map[string]bool{}
	walk(doc, func(n *html.Node) bool {
		if n.Type != html.ElementNode {
			return true
		}
		switch n.DataAtom {
		case atom.A:
			fixURLAttr(n, "href", base, true)
		case atom.Img:
			raw := strings.TrimSpace(attr(n, "src"))
			c.inline[raw] = true
			fixURLAttr(n, "src", base, false)
			removeAttr(n, "srcset")
			src := attr(n, "src")
			looks := contentfetch.LooksLikeImage(src)
			if src == "" || !looks && !isWeb(raw) {
				drop = append(drop, n)
				return false
			}
			if first == nil && looks {
				first = &image{URL: src, Alt: strings.TrimSpace(attr(n, "alt"))}
			}
		}
		return true
	})
	for _, n := range drop {
		n.Parent.RemoveChild(n)
	}
	flattenDeep(doc, 0)
	out, err := c.md.ConvertNode(doc)
	if err != nil {
		return "", nil, fmt.Errorf("converting item HTML to Markdown: %w", err)
	}
	if first != nil {
		first.Alt = defang(first.Alt)
	}
	md := trimTail(strings.TrimSpace(string(out)), wpFooterMarkdown)
	return defang(strings.TrimSpace(md)), first, nil
}

// textToHTML lets plain-text content (a JSON Feed content_text, a bare RSS
// description) keep its paragraphs: without any tag, blank lines become
// paragraph breaks. Entities are left alone, as feeds encode them.
func textToHTML(s string) string {
	if strings.Contains(s, "<") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, para := range blankLine.Split(s, -1) {
		if para = strings.TrimSpace(para); para != "" {
			b.WriteString("<p>" + para + "</p>\n")
		}
	}
	return b.String()
}

// Elements whose content is never text a reader sees.
var hiddenElements = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Iframe: true, atom.Object: true, atom.Noembed: true, atom.Noframes: true,
	atom.Head: true,
}

// Elements after which text continues on a new line, in plain text.
var blockElements = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.Li: true, atom.H1: true, atom.H2: true,
	atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Blockquote: true,
	atom.Tr: true, atom.Td: true, atom.Th: true, atom.Pre: true, atom.Hr: true,
	atom.Section: true, atom.Article: true, atom.Figcaption: true, atom.Ul: true, atom.Ol: true,
}

// plainText reduces untrusted HTML (or text with entities) to one line of
// readable text: tags dropped, entities decoded, whitespace collapsed.
func plainText(src string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	if !strings.ContainsAny(src, "<&") {
		return defang(strings.Join(strings.Fields(src), " "))
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return ""
	}
	var b strings.Builder
	walk(doc, func(n *html.Node) bool {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if hiddenElements[n.DataAtom] {
				return false
			}
			if blockElements[n.DataAtom] {
				b.WriteByte(' ')
			}
		}
		return true
	})
	text := strings.Join(strings.FieldsFunc(b.String(), unicode.IsSpace), " ")
	return defang(trimTail(text, wpFooterText))
}

// shorten cuts text to at most limit runes, at the end of a sentence when
// one ends in the second half, else at a word, marking the cut with "…".
func shorten(s string, limit int) string {
	s = strings.TrimSpace(s)
	// WordPress ends excerpts with "[…]"; a plain ellipsis reads better.
	for _, tail := range []string{"[…]", "[...]", "[&hellip;]"} {
		if strings.HasSuffix(s, tail) {
			s = strings.TrimSpace(strings.TrimSuffix(s, tail)) + "…"
		}
	}
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	cut := string(runes[:limit-1])
	if i := strings.LastIndexAny(cut, ".!?"); i >= len(cut)/2 && i+1 < len(cut) && cut[i+1] == ' ' {
		return cut[:i+1]
	}
	if i := strings.LastIndexFunc(cut, unicode.IsSpace); i > 0 {
		cut = cut[:i]
	}
	return strings.TrimRightFunc(cut, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) && r != ')' && r != '"' }) + "…"
}

// trimTail removes what re (a WordPress footer) matches at the end of s, looking only at the
// last few kilobytes so that a long text costs no more than a short one.
func trimTail(s string, re *regexp.Regexp) string {
	i := max(0, len(s)-3000)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	if !strings.Contains(s[i:], " appeared first on ") {
		return s
	}
	return s[:i] + re.ReplaceAllString(s[i:], "")
}

var (
	// Yoast SEO and similar plugins end every WordPress feed item with
	// "The post X appeared first on Y."; it is noise in a toot or a mail.
	wpFooterText     = regexp.MustCompile(`\s*The post .{1,300}? appeared first on .{1,200}?\.\s*$`)
	wpFooterMarkdown = regexp.MustCompile(`\n*The post \[[^\n]{1,600}\]\([^\n]*\) appeared first on \[[^\n]{1,400}\]\([^\n]*\)\.\s*$`)

	blankLine = regexp.MustCompile(`\n[ \t]*\n`)
	scriptTag = regexp.MustCompile(`(?i)<(script)`)
	jsScheme  = regexp.MustCompile(`(?i)(javascript):`)
	vbsScheme = regexp.MustCompile(`(?i)(vbscript):`)
)

// defang is the last line of defence for text that a channel might render
// as HTML or Markdown: no "<script" and no "javascript:" survive, even as
// words in the text (they appear as "< script" and "javascript%3A").
func defang(s string) string {
	if !strings.ContainsAny(s, "<:") {
		return s
	}
	s = scriptTag.ReplaceAllString(s, "< $1")
	s = jsScheme.ReplaceAllString(s, "${1}%3A")
	return vbsScheme.ReplaceAllString(s, "${1}%3A")
}

// resolve makes ref absolute against base, keeping it only when the result
// is a web address (or, for links, a mailto: address).
func resolve(ref string, base *url.URL, allowMailto bool) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	switch {
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		return u.String()
	case u.Scheme == "mailto" && allowMailto:
		return u.String()
	case u.Scheme == "" && base == nil && !strings.HasPrefix(ref, "//"):
		// Nothing to resolve against: a relative reference stays as the
		// feed wrote it rather than being lost.
		return u.String()
	}
	return ""
}

func fixURLAttr(n *html.Node, key string, base *url.URL, link bool) {
	for i := range n.Attr {
		if n.Attr[i].Key != key {
			continue
		}
		if v := resolve(n.Attr[i].Val, base, link); v != "" {
			n.Attr[i].Val = v
			return
		}
		removeAttr(n, key)
		return
	}
}

func removeAttr(n *html.Node, key string) {
	attrs := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Key != key {
			attrs = append(attrs, a)
		}
	}
	n.Attr = attrs
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// flattenDeep turns quotes and lists nested more than markdown.MaxDepth
// deep (depth counts those around n) into plain blocks, their text kept, as
// the Markdown parser does with deeper markers: html-to-markdown writes a
// quote or list prefix per level on every line, so that each level would
// copy the levels around it. Renaming costs nothing per node.
func flattenDeep(n *html.Node, depth int) {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		d := depth
		if c.Type == html.ElementNode && (c.DataAtom == atom.Blockquote || c.DataAtom == atom.Ul || c.DataAtom == atom.Ol) {
			d++
			if d > markdown.MaxDepth {
				toDiv(c)
				for li := c.FirstChild; li != nil; li = li.NextSibling {
					if li.Type == html.ElementNode && li.DataAtom == atom.Li {
						toDiv(li)
					}
				}
			}
		}
		flattenDeep(c, d)
	}
}

func toDiv(n *html.Node) {
	n.Data, n.DataAtom, n.Attr = "div", atom.Div, nil
}

// walk visits n and its descendants in document order; visit returns false
// to skip a node's children.
func walk(n *html.Node, visit func(*html.Node) bool) {
	if !visit(n) {
		return
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, visit)
	}
}
