package plaintext

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/crierhq/crier/channels/markdown"
)

func TestFromMarkdown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Hello *world*", "Hello world"},
		{"Read [the report](https://camaca.example/r).", "Read the report."},
		{"![Chart: victims 2010-2024](chart.png)\n\nBody", "Body"},
		{"- one\n- two", "• one\n\n• two"},
		{"<script>x</script>\n\nText", "Text"},
		{"`code` and <https://camaca.example>", "code and https://camaca.example"},
		{"line one  \nline two", "line one\nline two"},
	} {
		if got := FromMarkdown(tc.in); got != tc.want {
			t.Errorf("FromMarkdown(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJoinNormaliseOneLine(t *testing.T) {
	t.Parallel()
	if got := Join(" a ", "", "\n", "b"); got != "a\n\nb" {
		t.Errorf("Join = %q", got)
	}
	if got := Normalise("a\r\n\r\n\r\n  \nb\r"); got != "a\n\nb" {
		t.Errorf("Normalise = %q", got)
	}
	if got := OneLine(" child \n trafficking\t"); got != "child trafficking" {
		t.Errorf("OneLine = %q", got)
	}
}

// FuzzFromMarkdown: any input gives valid UTF-8 when the input is, and never
// Markdown image syntax.
func FuzzFromMarkdown(f *testing.F) {
	for _, s := range []string{"![](x.png)", "# T\n\n[a](b) *c*", "!![", "- a\n  - b",
		// Issue 18: nesting past markdown.MaxDepth, and brackets.
		strings.Repeat("- ", 40) + "deep\n" + strings.Repeat("> ", 40) + "quote", strings.Repeat("1. ", 30) + strings.Repeat("[a](", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := FromMarkdown(s)
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if !strings.Contains(s, "![") && strings.Contains(out, "![") {
			t.Fatalf("image syntax appeared from %q", s)
		}
	})
}

// TestFromMarkdownCapsNesting: 20,000 nested lists are 16 bullets and the
// text, not 20,000 (markdown.MaxDepth).
func TestFromMarkdownCapsNesting(t *testing.T) {
	t.Parallel()
	got := FromMarkdown(strings.Repeat("- ", 20000) + "deep text")
	if n := strings.Count(got, "•"); n > markdown.MaxDepth || !strings.HasSuffix(got, "• deep text") {
		t.Errorf("FromMarkdown kept %d bullets (want at most %d) and ends %q", n, markdown.MaxDepth, got[max(0, len(got)-20):])
	}
}
