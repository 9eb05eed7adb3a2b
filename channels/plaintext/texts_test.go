package plaintext

import (
	"testing"

	"github.com/crierhq/crier/post"
)

func TestTextsPicksWhatTheChannelSays(t *testing.T) {
	t.Parallel()
	base := post.Post{Title: "Vigil\n on  Saturday", Summary: "Join **us**.", Body: "Long body.", Link: " https://camaca.org/vigil "}
	for _, c := range []struct {
		name               string
		edit               func(p *post.Post)
		title, prose, link string
	}{
		{"summary first", func(p *post.Post) {}, "Vigil on Saturday", "Join us.", "https://camaca.org/vigil"},
		{"body without a summary", func(p *post.Post) { p.Summary = "" }, "Vigil on Saturday", "Long body.", "https://camaca.org/vigil"},
		{"the organiser's text replaces the title", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon-leeds": {Text: "Our own words."}}
		}, "", "Our own words.", "https://camaca.org/vigil"},
		{"a link already in that text is not added again", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon-leeds": {Text: "See https://camaca.org/vigil"}}
		}, "", "See https://camaca.org/vigil", ""},
		{"another instance's text does not count", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon": {Text: "Not for Leeds."}}
		}, "Vigil on Saturday", "Join us.", "https://camaca.org/vigil"},
	} {
		p := base
		c.edit(&p)
		title, prose, link := Texts(p, "mastodon-leeds")
		if title != c.title || prose != c.prose || link != c.link {
			t.Errorf("%s: got %q, %q, %q; want %q, %q, %q", c.name, title, prose, link, c.title, c.prose, c.link)
		}
	}
}
