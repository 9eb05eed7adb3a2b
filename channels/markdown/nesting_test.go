package markdown_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/markdown"
	"github.com/crierhq/crier/post"
)

// allocated is the fewest bytes f allocated in three runs.
func allocated(f func()) uint64 {
	var least uint64
	for i := range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; i == 0 || n < least {
			least = n
		}
	}
	return least
}

// TestFormattingIsLinearInNesting: four times the nesting costs about four
// times the memory on every channel (it cost 20 times and more when each
// level copied the levels around it), and the payload holds at most
// markdown.MaxDepth levels. Not parallel: it reads the process's
// allocation counter.
func TestFormattingIsLinearInNesting(t *testing.T) {
	fs := formatters(t)
	for _, kind := range []string{"quotes", "lists", "emphasis"} {
		for ch, f := range fs {
			format := func(levels int) channels.Payload {
				p, err := f.Format(nested(kind, levels))
				if err != nil {
					t.Fatalf("%s %s: %v", ch, kind, err)
				}
				return p
			}
			// Bold, italics and strikethrough alternating: 4,000 levels
			// took 26 s and 1 GB on Discord.
			levels := 5000
			if kind == "emphasis" {
				levels = 1000
			}
			small := allocated(func() { format(levels) })
			big := allocated(func() { format(4 * levels) })
			if big > 6*small {
				t.Errorf("%s, %s: %d levels allocated %d KB, %d levels %d KB: %.1f times, want about 4 (linear)", ch, kind, 4*levels, big>>10, levels, small>>10, float64(big)/float64(small))
			}
			if n := levelsIn(t, format(4*levels)); n > markdown.MaxDepth && kind != "emphasis" {
				t.Errorf("%s, %s: the payload nests %d levels, want at most %d", ch, kind, n, markdown.MaxDepth)
			}
		}
	}
}

// levelsIn is the most quote and list levels one text of a payload shows:
// elements in HTML, markers in short texts. The newsletter's plain-text
// part is left out: it is the Markdown as written.
func levelsIn(t *testing.T, p channels.Payload) int {
	t.Helper()
	body, err := json.Marshal(p.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	most := 0
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				walk(k, c)
			}
		case []any:
			for _, c := range v {
				walk(key, c)
			}
		case string:
			if key != "text" || p.Channel != "email" {
				most = max(most, strings.Count(v, "<blockquote"), strings.Count(v, "<ul"), strings.Count(v, "• "), strings.Count(v, "> "))
			}
		}
	}
	walk("", v)
	return most
}

// TestBracketsCostTheirSize: 100 KB of "[a](" on one line made goldmark
// read the rest of the line at every "](" (15 s on the newsletter alone; the
// issue measured 42 s for a 100 KB console preview). Every channel now
// formats it in well under a second (1.8 s for all four); the bound is
// generous for a machine under a load of 30.
func TestBracketsCostTheirSize(t *testing.T) {
	p := post.Post{ID: "brackets", Title: "Brackets", Link: "https://camp.example/b", Body: strings.Repeat("[a](", 25000)}
	start := time.Now()
	for ch, f := range formatters(t) {
		if _, err := f.Format(p); err != nil {
			t.Fatalf("%s: %v", ch, err)
		}
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("100 KB of link brackets took %v on the four channels, want well under 30 s", d)
	}
}
