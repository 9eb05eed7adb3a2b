package markdown

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// deep are hostile bodies nesting quotes and lists 20,000 levels deep,
// each ending in the words "deep text".
func deep() map[string]string {
	var indented strings.Builder
	for i := range 300 {
		indented.WriteString(strings.Repeat("  ", i) + "- item\n")
	}
	indented.WriteString(strings.Repeat("  ", 300) + "deep text\n")
	return map[string]string{
		"quotes":         strings.Repeat(">", 20000) + " deep text",
		"spaced quotes":  strings.Repeat("> ", 20000) + "deep text",
		"lists":          strings.Repeat("- ", 20000) + "deep text",
		"ordered lists":  strings.Repeat("1. ", 20000) + "deep text",
		"mixed":          strings.Repeat("> * 2) ", 7000) + "deep text",
		"indented lists": indented.String(),
		"lazy lines":     strings.Repeat(">", 20000) + " x\n" + strings.Repeat("> y\n", 2000) + "deep text",
		"quote per line": strings.Repeat(">", 20000) + " x\n" + strings.Repeat(">", 19999) + " deep text",
	}
}

// maxDepth is the deepest nesting of quotes and lists in doc.
func maxDepth(doc ast.Node) int {
	most := 0
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			most = max(most, depth(n))
		}
		return ast.WalkContinue, nil
	})
	return most
}

func TestNestingIsCappedAndTheTextKept(t *testing.T) {
	t.Parallel()
	for name, src := range deep() {
		doc := Parse([]byte(src))
		if d := maxDepth(doc); d > MaxDepth {
			t.Errorf("%s: nested %d deep, want at most %d", name, d, MaxDepth)
		}
		var out bytes.Buffer
		if err := commonMark.Renderer().Render(&out, []byte(src), doc); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "deep text") {
			t.Errorf("%s: the innermost text was lost", name)
		}
		if strings.Count(out.String(), "&gt;")+strings.Count(out.String(), "1.") > 0 {
			t.Errorf("%s: markers beyond the cap show as text", name)
		}
	}
}

// TestShallowDocumentsAreUnchanged: below the cap the parser is goldmark's.
func TestShallowDocumentsAreUnchanged(t *testing.T) {
	t.Parallel()
	docs := []string{
		"# Title\n\nA *paragraph* with [a link](https://example.org) and `code`.\n\n> quoted\n> > twice\n\n- one\n- two\n  - nested\n    1. ordered\n\n---\n\n```go\nx := 1\n```\n",
		strings.Repeat("> ", MaxDepth) + "exactly at the cap\n\n" + strings.Repeat("- ", MaxDepth) + "list at the cap",
		"1) a\n2) b\n\n* * *\n\n- [ ] task\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
		"para\n- interrupts\n\npara\n2. does not interrupt\n",
	}
	ours := New(goldmark.WithExtensions(extension.GFM))
	theirs := goldmark.New(goldmark.WithExtensions(extension.GFM))
	for _, d := range docs {
		var a, b bytes.Buffer
		if err := ours.Convert([]byte(d), &a); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Convert([]byte(d), &b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%q:\n got %s\nwant %s", d, a.String(), b.String())
		}
	}
}

func TestMarkerLen(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{
		">x": 1, "- x": 1, "-": 1, "-x": 0, "*emph*": 0, "+\t": 1, "12. x": 3, "3) x": 2,
		"1234567890. x": 0, "1.x": 0, "x": 0, "": 0, "#": 0,
	} {
		if got := markerLen([]byte(s)); got != want {
			t.Errorf("markerLen(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestShortReaderCutsLinesKeepingSegmentsConsistent(t *testing.T) {
	t.Parallel()
	src := []byte(strings.Repeat("x", 3*MaxLinkLine) + "\nnext")
	r := shortReader{text.NewReader(src)}
	r.Advance(10)
	line, seg := r.PeekLine()
	if len(line) != MaxLinkLine || seg.Stop-seg.Start != MaxLinkLine || !bytes.Equal(seg.Value(src), line) {
		t.Fatalf("line of %d bytes, segment %d-%d", len(line), seg.Start, seg.Stop)
	}
}

// TestLinksStillWork: links, including one just before a long line and one
// whose address is as long as a browser takes, parse as goldmark parses
// them.
func TestLinksStillWork(t *testing.T) {
	t.Parallel()
	long := "https://camaca.example/" + strings.Repeat("a", 2000)
	for _, src := range []string{
		"[a](https://x.example) and [b](<https://y.example/a b> \"title\")" + strings.Repeat(" word", 2000),
		"[long](" + long + ")",
		strings.Repeat("[a](", 3000) + "u)",
		"![alt](pic.png (title)) [ref]\n\n[ref]: https://z.example",
	} {
		var a, b bytes.Buffer
		if err := commonMark.Convert([]byte(src), &a); err != nil {
			t.Fatal(err)
		}
		if err := goldmark.New().Convert([]byte(src), &b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Errorf("%.60q...: got %.200s\nwant %.200s", src, a.String(), b.String())
		}
	}
}

// deepSeeds are the hostile shapes of issue 18, small enough to fuzz from.
var deepSeeds = []string{
	strings.Repeat(">", 40) + " deep text",
	strings.Repeat("> ", 40) + "deep\n" + strings.Repeat(">", 38) + " lazy\nlazier",
	strings.Repeat("- ", 40) + "deep text",
	strings.Repeat("1. ", 40) + "x\n" + strings.Repeat("   ", 40) + "- y",
	strings.Repeat("> * 2) ", 12) + "mixed\n\n" + strings.Repeat("> ", 20),
	strings.Repeat("*a ~~b _c ", 30) + "x" + strings.Repeat(" c_ d~~ e*", 30),
	strings.Repeat("[a](", 600) + "u)",
	strings.Repeat("[a](<", 600),
	"- a\n  - b\n    - c\n      - d\n" + strings.Repeat("  ", 20) + "- e",
}

// FuzzParse: the capped parser never nests deeper than MaxDepth, and where
// goldmark itself stays within the caps it renders exactly as goldmark.
func FuzzParse(f *testing.F) {
	for _, s := range deepSeeds {
		f.Add(s)
	}
	f.Add("# T\n\n[a](b) *c* `d`\n\n> q\n\n1. x\n2. y\n")
	theirs := goldmark.New()
	f.Fuzz(func(t *testing.T, src string) {
		doc := Parse([]byte(src))
		if d := maxDepth(doc); d > MaxDepth {
			t.Fatalf("nested %d deep", d)
		}
		if maxDepth(theirs.Parser().Parse(text.NewReader([]byte(src)))) > MaxDepth || len(src) > MaxLinkLine {
			return // the caps change the document; checked above
		}
		var a, b bytes.Buffer
		if err := commonMark.Renderer().Render(&a, []byte(src), doc); err != nil {
			t.Fatal(err)
		}
		if err := theirs.Convert([]byte(src), &b); err != nil {
			t.Fatal(err)
		}
		if a.String() != b.String() {
			t.Fatalf("within the caps the output differs from goldmark's:\n got %q\nwant %q", a.String(), b.String())
		}
	})
}

// TestWebURL: only absolute http(s) addresses with a host and no user in
// them pass; relative ones are resolved against the base when there is one.
func TestWebURL(t *testing.T) {
	base, _ := url.Parse("https://camaca.example/news/")
	for _, c := range []struct {
		dest string
		base *url.URL
		want string
	}{
		{" https://camaca.example/a ", nil, "https://camaca.example/a"},
		{"vigil", base, "https://camaca.example/news/vigil"},
		{"vigil", nil, ""},
		{"javascript:alert(1)", base, ""},
		{"data:text/html,x", nil, ""},
		{"mailto:a@camaca.example", nil, ""},
		{"https://camaca.example@evil.example/", nil, ""},
		{"https:///nohost", nil, ""},
		{"http://[::1", nil, ""},
	} {
		u, ok := WebURL(c.dest, c.base)
		got := ""
		if ok {
			got = u.String()
		}
		if got != c.want {
			t.Errorf("WebURL(%q) = %q, want %q", c.dest, got, c.want)
		}
	}
}
