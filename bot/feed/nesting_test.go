package feed

import (
	"bytes"
	"html"
	"runtime"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels/markdown"
)

// deepFeed is an RSS feed of one item whose HTML nests quotes or lists the
// given levels deep (the HTML parser refuses more than 512 open elements).
func deepFeed(open, close string, levels int) []byte {
	content := strings.Repeat(open, levels) + "deep text" + strings.Repeat(close, levels)
	return []byte(`<rss version="2.0"><channel><title>F</title><item><guid>1</guid><title>Deep</title><link>https://camaca.example/deep</link><description>` +
		html.EscapeString(content) + `</description></item></channel></rss>`)
}

// TestDeeplyNestedHTMLCostsItsSize: a hostile feed's nesting is flattened
// below markdown.MaxDepth before it becomes Markdown, so four times the
// nesting costs about four times the memory (it cost 11 times, each level
// copying the quote prefix of the levels around it). Not parallel: it reads
// the process's allocation counter.
func TestDeeplyNestedHTMLCostsItsSize(t *testing.T) {
	for _, k := range []struct{ open, close string }{{"<blockquote>", "</blockquote>"}, {"<ul><li>", "</li></ul>"}} {
		parse := func(levels int) string {
			res, err := Parse("deep", bytes.NewReader(deepFeed(k.open, k.close, levels)), "https://camaca.example/feed/")
			if err != nil || len(res.Items) != 1 {
				t.Fatalf("%s: %v, %d items", k.open, err, len(res.Items))
			}
			return res.Items[0].Post.Body
		}
		levels := 120
		if k.open == "<ul><li>" {
			levels = 60 // two open elements a level
		}
		cost := func(levels int) uint64 {
			var least uint64
			for i := range 3 {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				parse(levels)
				runtime.ReadMemStats(&after)
				if n := after.TotalAlloc - before.TotalAlloc; i == 0 || n < least {
					least = n
				}
			}
			return least
		}
		small, big := cost(levels), cost(4*levels)
		if big > 6*small {
			t.Errorf("%s: %d levels allocated %d KB, %d levels %d KB: %.1f times, want about 4", k.open, 4*levels, big>>10, levels, small>>10, float64(big)/float64(small))
		}
		body := parse(4 * levels)
		if !strings.Contains(body, "deep text") {
			t.Errorf("%s: the text was lost: %q", k.open, body)
		}
		for _, line := range strings.Split(body, "\n") {
			if n := strings.Count(line, ">") + strings.Count(line, "- "); n > markdown.MaxDepth {
				t.Errorf("%s: a line nests %d levels, want at most %d: %.80q", k.open, n, markdown.MaxDepth, line)
				break
			}
		}
	}
}
