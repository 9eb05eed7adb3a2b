package bluesky

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// BenchmarkFormat formats a typical post, and 100 KB texts dense with
// mentions and links (the fuzzer's worst cases) as a thread and shortened.
func BenchmarkFormat(b *testing.B) {
	cases := map[string]string{
		"typical":        "The number of child trafficking victims is rising again 👍🏽. Join the vigil, #Solidarity with @friend.bsky.social. https://camaca.example/vigil",
		"100KB mentions": strings.Repeat("@a.b ", 20000),
		"100KB links":    strings.Repeat("http://a.b/ ", 8400),
		"100KB CJK":      strings.Repeat("児童", 17000),
	}
	for name, text := range cases {
		for _, thread := range []bool{false, true} {
			f := NewFormatter(Config{Thread: thread, Hashtags: []string{"EndChildTrafficking"}}, channels.Campaign{})
			p := post.Post{ID: "md:b", Title: "Vigil", Summary: text, Link: "https://camaca.example/news/vigil", Tags: []string{"human rights"}, ContentWarning: "child trafficking"}
			mode := "shortened"
			if thread {
				mode = "thread"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				for b.Loop() {
					if _, err := f.Format(p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
