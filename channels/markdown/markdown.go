// Package markdown provides the Markdown parser every formatter and the
// feed reader share: goldmark's CommonMark with the nesting of quotes and
// lists capped at MaxDepth, so that parsing and rendering cost time and
// memory in proportion to the text.
//
// goldmark re-examines every open block for each one it opens, so a line of
// 20,000 ">" took seconds to parse, and every renderer that writes a prefix
// per level (Discord's "> > >", list indentation) then copied that prefix at
// every level. Beyond MaxDepth the markers are dropped and the text joins
// the deepest quote or list item: nothing is lost but the deeper nesting.
//
// goldmark also reads the rest of the line after every "](" for a link
// address, so 100 KB of "[a](" took 15 s: the link parser here reads at
// most MaxLinkLine bytes after a link's text.
package markdown

import (
	"net/url"
	"reflect"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// MaxDepth is how many quotes and lists may nest inside one another; it is
// documented in docs/console.md. Real posts nest three or four levels.
const MaxDepth = 16

// MaxLinkLine is how far after "](" a link's address and title may end
// (browsers keep addresses under 2,048 characters); a longer one is text.
const MaxLinkLine = 2048

// New returns goldmark with the given options (extensions) whose parser
// caps quote and list nesting at MaxDepth.
func New(opts ...goldmark.Option) goldmark.Markdown {
	p := parser.NewParser(
		parser.WithBlockParsers(blockParsers()...),
		parser.WithInlineParsers(inlineParsers()...),
		parser.WithParagraphTransformers(parser.DefaultParagraphTransformers()...),
	)
	return goldmark.New(append([]goldmark.Option{goldmark.WithParser(p)}, opts...)...)
}

// Parse parses src as plain CommonMark with nesting capped at MaxDepth.
func Parse(src []byte) ast.Node {
	return commonMark.Parser().Parse(text.NewReader(src))
}

var commonMark = New()

// blockParsers are goldmark's block parsers with the two that nest (quotes
// and lists) wrapped by capped.
func blockParsers() []util.PrioritizedValue {
	nesting := map[reflect.Type]bool{
		reflect.TypeOf(parser.NewBlockquoteParser()): true,
		reflect.TypeOf(parser.NewListParser()):       true,
	}
	ps := parser.DefaultBlockParsers()
	for i, p := range ps {
		if nesting[reflect.TypeOf(p.Value)] {
			ps[i].Value = capped{p.Value.(parser.BlockParser)}
		}
	}
	return ps
}

// inlineParsers are goldmark's inline parsers with the link parser given
// lines of at most MaxLinkLine bytes.
func inlineParsers() []util.PrioritizedValue {
	link := reflect.TypeOf(parser.NewLinkParser())
	ps := parser.DefaultInlineParsers()
	for i, p := range ps {
		if reflect.TypeOf(p.Value) == link {
			ps[i].Value = shortLines{p.Value.(linkParser)}
		}
	}
	return ps
}

// linkParser is goldmark's link parser: an inline parser that also tidies
// up at the end of each block.
type linkParser interface {
	parser.InlineParser
	parser.CloseBlocker
}

// shortLines runs the link parser on a reader whose lines end after
// MaxLinkLine bytes: every address and title scan stops there.
type shortLines struct{ linkParser }

func (s shortLines) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	return s.linkParser.Parse(parent, shortReader{block}, pc)
}

type shortReader struct{ text.Reader }

func (r shortReader) PeekLine() ([]byte, text.Segment) {
	line, seg := r.Reader.PeekLine()
	if cut := len(line) - MaxLinkLine; cut > 0 {
		line, seg.Stop = line[:MaxLinkLine], seg.Stop-cut
	}
	return line, seg
}

// capped opens a quote or list only where fewer than MaxDepth enclose it;
// deeper, it skips the markers so that the text continues the block the
// line is in.
type capped struct{ parser.BlockParser }

func (c capped) Open(parent ast.Node, reader text.Reader, pc parser.Context) (ast.Node, parser.State) {
	node, state := c.BlockParser.Open(parent, reader, pc)
	if node == nil || depth(parent) < MaxDepth {
		return node, state
	}
	skipMarkers(reader)
	return nil, parser.NoChildren
}

// depth counts the quotes and lists n is in, n included. It walks at most
// 2×MaxDepth+2 nodes (a list item between lists, the document): the cap
// holds the tree that shallow.
func depth(n ast.Node) int {
	d := 0
	for ; n != nil; n = n.Parent() {
		switch n.(type) {
		case *ast.Blockquote, *ast.List:
			d++
		}
	}
	return d
}

// skipMarkers advances the reader past the quote and list markers at its
// position and the blanks between them.
func skipMarkers(reader text.Reader) {
	line, _ := reader.PeekLine()
	end := 0
	for i := 0; ; {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		n := markerLen(line[i:])
		if n == 0 {
			break
		}
		i += n
		end = i
	}
	reader.Advance(end)
}

// markerLen is the length of the quote or list marker s starts with, or 0.
func markerLen(s []byte) int {
	blankAt := func(i int) bool { return i == len(s) || util.IsSpace(s[i]) }
	if len(s) == 0 {
		return 0
	}
	switch s[0] {
	case '>':
		return 1
	case '-', '+', '*':
		if blankAt(1) {
			return 1
		}
		return 0
	}
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && (s[i] == '.' || s[i] == ')') && blankAt(i+1) {
		return i + 1
	}
	return 0
}

// WebURL makes a link's destination an absolute http(s) address, resolved
// against base when relative (base may be nil), and refuses anything else:
// other schemes (javascript:, data:, mailto:), no host, or a user in the
// address, which would show a reader one host and take them to another.
func WebURL(dest string, base *url.URL) (*url.URL, bool) {
	u, err := url.Parse(strings.TrimSpace(dest))
	if err != nil {
		return nil, false
	}
	if !u.IsAbs() && base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, false
	}
	return u, true
}

// Unescape resolves a text segment's backslash escapes and character
// references, as CommonMark reads them.
func Unescape(v []byte) []byte {
	return util.ResolveEntityNames(util.ResolveNumericReferences(util.UnescapePunctuations(v)))
}
