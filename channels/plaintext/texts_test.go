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
		{"the text, even with a summary", func(p *post.Post) {}, "Vigil on Saturday", "Long body.", "https://camaca.org/vigil"},
		{"the summary when there is no text", func(p *post.Post) { p.Body = "" }, "Vigil on Saturday", "Join us.", "https://camaca.org/vigil"},
		{"the organiser's text replaces the title", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon-leeds": {Text: "Our own words."}}
		}, "", "Our own words.", "https://camaca.org/vigil"},
		{"a link already in that text is not added again", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon-leeds": {Text: "See https://camaca.org/vigil"}}
		}, "", "See https://camaca.org/vigil", ""},
		{"another instance's text does not count", func(p *post.Post) {
			p.Channels = map[string]post.Override{"mastodon": {Text: "Not for Leeds."}}
		}, "Vigil on Saturday", "Long body.", "https://camaca.org/vigil"},
	} {
		p := base
		c.edit(&p)
		title, prose, link := Texts(p, "mastodon-leeds")
		if title != c.title || prose != c.prose || link != c.link {
			t.Errorf("%s: got %q, %q, %q; want %q, %q, %q", c.name, title, prose, link, c.title, c.prose, c.link)
		}
	}
}

func TestSummaryTextsOnlyWithASummaryAndNoOwnText(t *testing.T) {
	t.Parallel()
	p := post.Post{Title: "Vigil", Summary: "Join **us**.", Body: "Long body.", Link: "https://camaca.org/vigil"}
	if title, prose, link, ok := SummaryTexts(p, "mastodon"); !ok || title != "Vigil" || prose != "Join us." || link != "https://camaca.org/vigil" {
		t.Errorf("with a summary: %q %q %q %v", title, prose, link, ok)
	}
	p.Channels = map[string]post.Override{"mastodon": {Text: "Our own words."}}
	if _, _, _, ok := SummaryTexts(p, "mastodon"); ok {
		t.Error("the organiser's own text for the channel was replaced by the summary")
	}
	if _, _, _, ok := SummaryTexts(post.Post{Title: "Vigil", Body: "Text."}, "mastodon"); ok {
		t.Error("no summary, yet SummaryTexts offers one")
	}
}
