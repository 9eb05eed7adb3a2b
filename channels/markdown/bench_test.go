package markdown_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/post"
)

// This file uses only the channels' public API, so that the same benchmark
// runs on a commit from before the cap (see docs/BENCHMARKS.md).

// formatters are every channel type's formatter; the short-text ones make
// threads, so that nothing is cut short before it is formatted.
func formatters(t testing.TB) map[string]channels.Formatter {
	camp := channels.Campaign{Name: "Camp", Website: "https://camp.example", PublicURL: "https://camp.example"}
	mail, err := email.NewFormatter(email.Config{}, camp)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]channels.Formatter{
		"discord":  discord.NewFormatter(discord.Config{}, camp),
		"mastodon": mastodon.NewFormatter(mastodon.Config{Thread: true}, camp),
		"bluesky":  bluesky.NewFormatter(bluesky.Config{Thread: true}, camp),
		"email":    mail,
	}
}

// nested is a post whose body nests quotes, lists or emphasis (italics
// and strikethrough alternating) the given levels deep.
func nested(kind string, levels int) post.Post {
	body := strings.Repeat(map[string]string{"quotes": ">", "lists": "- "}[kind], levels) + " deep text"
	if kind == "emphasis" {
		body = strings.Repeat("*a ~~b ", levels/2) + "deep text" + strings.Repeat(" c~~ d*", levels/2)
	}
	return post.Post{ID: "deep", Title: "Deep", Link: "https://camp.example/deep", Body: body}
}

// BenchmarkDeepNesting formats 5,000, 10,000 and 20,000 levels of nested
// quotes and of nested lists on every channel.
func BenchmarkDeepNesting(b *testing.B) {
	fs := formatters(b)
	for _, kind := range []string{"quotes", "lists"} {
		for _, ch := range []string{"discord", "mastodon", "bluesky", "email"} {
			for _, levels := range []int{5000, 10000, 20000} {
				p := nested(kind, levels)
				b.Run(fmt.Sprintf("%s/%s/%d", kind, ch, levels), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := fs[ch].Format(p); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
