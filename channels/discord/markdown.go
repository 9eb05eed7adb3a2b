package discord

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/crierhq/crier/channels/markdown"
)

// segment kinds.
const (
	segText = iota // plain text: escaped on output, may be cut between words
	segCode        // code block text: written as is, may be cut between words
	segAtom        // markup or a whole link: never cut
)

// segment is one piece of rendered Discord Markdown. Keeping the pieces
// apart lets the description be shortened without ever cutting inside a
// link or leaving bold, italics or a code block open.
type segment struct {
	kind      int
	s         string // the raw text (segText, segCode) or the markup (segAtom)
	lineStart bool   // segText starting a line: escape heading/list markers
	close     string // closes every construct open after this segment
	end       bool   // the text may stop after this segment
}

func (g segment) render(s string) string {
	if g.kind == segText {
		return escapeText(s, g.lineStart)
	}
	return s
}

// maxSource bounds the Markdown parsed for one description.
const maxSource = 64 << 10

// discordMarkdown parses Markdown (CommonMark with strikethrough and
// bare-URL links, quotes and lists nested at most markdown.MaxDepth deep;
// raw HTML is dropped, its text kept).
var discordMarkdown = markdown.New(goldmark.WithExtensions(extension.Strikethrough, extension.Linkify))

// renderMarkdown converts Markdown to Discord's dialect. base, when set,
// resolves relative links.
func renderMarkdown(src string, base *url.URL) []segment {
	// A description holds at most 4096 characters: parsing more than
	// maxSource bytes of Markdown only costs time. Cut at a paragraph.
	if len(src) > maxSource {
		cut := strings.LastIndex(src[:maxSource], "\n\n")
		if cut < maxSource/2 {
			cut = maxSource
			for cut > 0 && !utf8.RuneStart(src[cut]) {
				cut--
			}
		}
		src = src[:cut]
	}
	source := []byte(src)
	doc := discordMarkdown.Parser().Parse(text.NewReader(source))
	r := &mdRenderer{src: source, base: base}
	r.blocks(doc)
	r.flush()
	return r.segs
}

type mdRenderer struct {
	src     []byte
	base    *url.URL
	segs    []segment
	closers []string
	// prefix follows every line break: quote markers and list indentation.
	prefix string
	// fresh is set right after a list or quote marker: the next block
	// starts on that line.
	fresh       bool
	atLineStart bool
	bold        int

	inText  bool
	textSeg segment
	buf     strings.Builder
}

func (r *mdRenderer) closeAll() string {
	var b strings.Builder
	for i := len(r.closers) - 1; i >= 0; i-- {
		b.WriteString(r.closers[i])
	}
	return b.String()
}

func (r *mdRenderer) atom(s string, end bool) {
	r.flush()
	r.segs = append(r.segs, segment{kind: segAtom, s: s, close: r.closeAll(), end: end})
	r.atLineStart = false
}

func (r *mdRenderer) open(marker, closer string) {
	r.atom(marker, false)
	r.closers = append(r.closers, closer)
}

func (r *mdRenderer) shut() {
	c := r.closers[len(r.closers)-1]
	r.closers = r.closers[:len(r.closers)-1]
	r.atom(c, true)
}

// text adds plain text; adjacent pieces (goldmark splits text at every
// punctuation mark) are gathered into one segment so that escaping and
// cutting see whole words.
func (r *mdRenderer) text(s string) {
	if s == "" {
		return
	}
	if !r.inText {
		r.inText = true
		r.textSeg = segment{kind: segText, lineStart: r.atLineStart, close: r.closeAll(), end: true}
		r.buf.Reset()
	}
	r.buf.WriteString(s)
	r.atLineStart = false
}

// flush ends the text segment being gathered.
func (r *mdRenderer) flush() {
	if r.inText {
		r.textSeg.s = r.buf.String()
		r.segs = append(r.segs, r.textSeg)
		r.inText = false
	}
}

func (r *mdRenderer) newline() {
	r.flush()
	r.segs = append(r.segs, segment{kind: segAtom, s: "\n" + r.prefix, close: r.closeAll()})
	r.atLineStart = true
}

// startBlock separates a block from what came before.
func (r *mdRenderer) startBlock() {
	if r.fresh {
		r.fresh = false
		return
	}
	if len(r.segs) == 0 && !r.inText {
		r.atLineStart = true
		return
	}
	r.flush()
	if r.prefix == "" {
		r.segs = append(r.segs, segment{kind: segAtom, s: "\n\n", close: r.closeAll()})
		r.atLineStart = true
		return
	}
	r.newline()
}

func (r *mdRenderer) blocks(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.block(c)
	}
}

var langPattern = regexp.MustCompile(`^[A-Za-z0-9_+.#-]{1,20}$`)

func (r *mdRenderer) block(n ast.Node) {
	switch n := n.(type) {
	case *ast.Paragraph, *ast.TextBlock:
		r.startBlock()
		r.inlines(n)
	case *ast.Heading:
		r.startBlock()
		r.strong(n)
	case *ast.ThematicBreak:
		r.startBlock()
		r.atom("───", true)
	case *ast.CodeBlock, *ast.FencedCodeBlock:
		r.startBlock()
		var body strings.Builder
		lines := n.Lines()
		for i := 0; i < lines.Len(); i++ {
			seg := lines.At(i)
			body.Write(seg.Value(r.src))
		}
		lang := ""
		if f, ok := n.(*ast.FencedCodeBlock); ok && langPattern.Match(f.Language(r.src)) {
			lang = string(f.Language(r.src))
		}
		code := strings.TrimRight(body.String(), "\n")
		// A fence inside the code would end the block early.
		code = strings.ReplaceAll(code, "```", "`\u200b``")
		if strings.TrimSpace(code) == "" {
			return
		}
		r.open("```"+lang+"\n", "\n```")
		r.flush()
		r.segs = append(r.segs, segment{kind: segCode, s: code, close: r.closeAll(), end: true})
		r.shut()
	case *ast.Blockquote:
		r.startBlock()
		old := r.prefix
		r.atom("> ", false)
		r.prefix += "> "
		r.fresh = true
		r.blocks(n)
		r.fresh = false
		r.prefix = old
	case *ast.List:
		r.startBlock()
		old := r.prefix
		i := 0
		for item := n.FirstChild(); item != nil; item = item.NextSibling() {
			if i > 0 {
				r.newline()
			}
			marker := "- "
			if n.IsOrdered() {
				marker = fmt.Sprintf("%d. ", n.Start+i)
			}
			r.atom(marker, false)
			r.prefix = old + strings.Repeat(" ", len(marker))
			r.fresh = true
			r.blocks(item)
			r.fresh = false
			r.prefix = old
			i++
		}
	case *ast.HTMLBlock:
		// Raw HTML never reaches Discord.
	default:
		r.blocks(n)
	}
}

func (r *mdRenderer) inlines(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		r.inline(c)
	}
}

// nestedTooDeep reports whether markdown.MaxDepth bold, italic or
// strikethrough marks are open already: deeper ones are left out, their
// text kept, so that no segment carries more than that many closers.
func (r *mdRenderer) nestedTooDeep() bool { return len(r.closers) >= markdown.MaxDepth }

func (r *mdRenderer) strong(n ast.Node) {
	if r.bold > 0 || r.nestedTooDeep() {
		r.inlines(n)
		return
	}
	r.bold++
	r.open("**", "**")
	r.inlines(n)
	r.shut()
	r.bold--
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
			r.newline()
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
		code := collapseSpace(r.plainText(n, false))
		if code == "" {
			return
		}
		fence := "`"
		if strings.Contains(code, "`") {
			fence = "``"
			code = " " + strings.ReplaceAll(code, "``", "`\u200b`") + " "
		}
		r.atom(fence+code+fence, true)
	case *ast.Emphasis:
		if r.nestedTooDeep() {
			r.inlines(n)
			return
		}
		if strings.TrimSpace(r.plainText(n, true)) == "" {
			return
		}
		if n.Level >= 2 {
			r.strong(n)
			return
		}
		r.open("*", "*")
		r.inlines(n)
		r.shut()
	case *east.Strikethrough:
		if r.nestedTooDeep() {
			r.inlines(n)
			return
		}
		r.open("~~", "~~")
		r.inlines(n)
		r.shut()
	case *ast.Link:
		r.link(r.plainText(n, true), string(n.Destination))
	case *ast.Image:
		alt := r.plainText(n, true)
		if strings.TrimSpace(alt) == "" {
			alt = "image"
		}
		r.link(alt, string(n.Destination))
	case *ast.AutoLink:
		u := string(n.URL(r.src))
		if n.AutoLinkType == ast.AutoLinkURL {
			if s, ok := r.resolve(u); ok {
				r.atom(s, true)
				return
			}
		}
		r.text(string(n.Label(r.src)))
	case *ast.RawHTML:
		// Dropped: only the text between tags is kept.
	default:
		r.inlines(n)
	}
}

// link writes a masked link, or only its text when the target is not an
// absolute http(s) URL.
func (r *mdRenderer) link(label, dest string) {
	label = collapseSpace(label)
	u, ok := r.resolve(dest)
	if !ok {
		r.text(label)
		return
	}
	if label == "" {
		label = u
	}
	r.atom("["+escapeText(label, false)+"]("+u+")", true)
}

// resolve makes dest an absolute http(s) URL safe inside a masked link.
func (r *mdRenderer) resolve(dest string) (string, bool) {
	return safeURL(dest, r.base)
}

func safeURL(dest string, base *url.URL) (string, bool) {
	u, ok := markdown.WebURL(dest, base)
	if !ok {
		return "", false
	}
	s := u.String()
	s = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E", "*", "%2A", "_", "%5F", "~", "%7E", "|", "%7C", "`", "%60", "[", "%5B", "]", "%5D", "\\", "%5C").Replace(s)
	if length(s) > maxURL {
		return "", false
	}
	return s, true
}

// plainText is the text of n's descendants, unescaped unless raw.
func (r *mdRenderer) plainText(n ast.Node, unesc bool) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch c := c.(type) {
		case *ast.Text:
			v := c.Segment.Value(r.src)
			if unesc && !c.IsRaw() {
				v = unescape(v)
			}
			b.Write(v)
			if c.SoftLineBreak() || c.HardLineBreak() {
				b.WriteByte(' ')
			}
		case *ast.String:
			b.Write(c.Value)
		case *ast.AutoLink:
			b.Write(c.Label(r.src))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

func unescape(v []byte) []byte { return markdown.Unescape(v) }

// truncate joins segs within limit. When they do not fit, it stops at the
// last word that does, adds an ellipsis, closes what is open and appends
// suffix (the "read more" link).
func truncate(segs []segment, limit int, suffix string) (string, bool) {
	var full strings.Builder
	for _, g := range segs {
		full.WriteString(g.render(g.s))
	}
	if s := strings.TrimSpace(full.String()); length(s) <= limit {
		return s, false
	}
	var acc strings.Builder
	accLen := 0
	best := ""
	trim := func(s string) string { return strings.TrimRightFunc(s, unicode.IsSpace) }
	for _, g := range segs {
		out := g.render(g.s)
		tail := length(ellipsis) + length(g.close) + length(suffix)
		if accLen+length(out)+tail <= limit {
			if g.end {
				best = trim(acc.String()+out) + ellipsis + g.close
			}
			acc.WriteString(out)
			accLen += length(out)
			continue
		}
		if g.kind != segAtom {
			// Only a prefix up to the limit can fit: cut there first so
			// a huge paragraph costs no more than a short one.
			raw := g.s
			if max := limit * 4; len(raw) > max {
				raw = raw[:max]
			}
			// Between words; between characters only when nothing fits
			// yet (a first word longer than the limit).
			word, fine := allBreaks(raw)
			tries := [][]int{word}
			if best == "" {
				tries = append(tries, fine)
			}
			for _, cuts := range tries {
				fits := func(i int) bool { return accLen+length(g.render(trim(raw[:cuts[i]])))+tail <= limit }
				if n := sort.Search(len(cuts), func(i int) bool { return !fits(i) }); n > 0 {
					if p := trim(raw[:cuts[n-1]]); p != "" {
						best = trim(acc.String()+g.render(p)) + ellipsis + g.close
						break
					}
				}
				if best != "" {
					break
				}
			}
		}
		break
	}
	if best == "" {
		s := strings.TrimLeft(suffix, "\n")
		if length(s) > limit {
			return "", true
		}
		return s, true
	}
	return best + suffix, true
}
