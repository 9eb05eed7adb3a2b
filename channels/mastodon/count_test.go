package mastodon

import (
	"strings"
	"testing"
)

func TestCount(t *testing.T) {
	t.Parallel()
	mastodon := Counter{URLLength: 23}
	gts := Counter{URLLength: 25, Runes: true}
	long := "https://example.org/" + strings.Repeat("a", 200)
	tests := []struct {
		name          string
		c             Counter
		spoiler, text string
		want          int
	}{
		{"ascii", mastodon, "", "hello", 5},
		{"url counts 23", mastodon, "", "see https://example.org/x", 4 + 23},
		{"long url counts 23", mastodon, "", long, 23},
		{"url without scheme counts in full", mastodon, "", "example.org/x", 13},
		{"trailing full stop is not part of the url", mastodon, "", "https://example.org/x.", 24},
		{"balanced parenthesis stays in the url", mastodon, "", "(https://en.wikipedia.org/wiki/A_(b))", 25},
		{"two urls", mastodon, "", "https://a.org https://b.org/c", 23 + 1 + 23},
		{"remote mention counts as local", mastodon, "", "hi @alice@social.example.org", 3 + 6},
		{"local mention", mastodon, "", "@bob", 4},
		{"email is not a mention", mastodon, "", "a@b.org", 7},
		{"emoji", mastodon, "", "👍🏽", 1},
		{"zwj family", mastodon, "", "👨‍👩‍👧‍👦", 1},
		{"flag", mastodon, "", "🇬🇧", 1},
		{"combining marks", mastodon, "", "e\u0301e\u0301", 2},
		{"cjk", mastodon, "", "人身売買に反対", 7},
		{"rtl", mastodon, "", "مرحبا بالعالم", 13},
		{"hebrew with points", mastodon, "", "שָׁלוֹם", 4},
		{"content warning counts", mastodon, "CW: trafficking", "text", 15 + 4},
		{"gotosocial counts runes and whole urls", gts, "cw", "see " + long, 2 + 4 + len(long)},
		{"gotosocial counts zwj sequences as runes", gts, "", "👨‍👩‍👧‍👦", 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Count(tt.spoiler, tt.text); got != tt.want {
				t.Errorf("Count(%q, %q) = %d, want %d", tt.spoiler, tt.text, got, tt.want)
			}
		})
	}
}

func TestEntities(t *testing.T) {
	t.Parallel()
	text := "Read https://example.org/a?b=c#frag, tag #ChildRights and @x@y.org."
	var got []string
	for _, e := range entities(text) {
		got = append(got, text[e.start:e.end])
	}
	want := []string{"https://example.org/a?b=c#frag", "#ChildRights", "@x@y.org"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("entities = %q, want %q", got, want)
	}
}

func TestHashtag(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"child trafficking": "#ChildTrafficking",
		"anti-slavery":      "#AntiSlavery",
		"children's rights": "#ChildrensRights",
		"#Already":          "#Already",
		"trafficking":       "#trafficking",
		"  UK   aid! ":      "#UKAid",
		"2024":              "",
		"!!!":               "",
		"人身売買":              "#人身売買",
		"safe_guarding":     "#safe_guarding",
		"COVID-19 response": "#COVID19Response",
		"école des enfants": "#ÉcoleDesEnfants",
	}
	for in, want := range tests {
		if got := Hashtag(in); got != want {
			t.Errorf("Hashtag(%q) = %q, want %q", in, got, want)
		}
	}
	got := hashtags("Already has #ChildTrafficking", []string{"child trafficking", "Safeguarding", "safeguarding", "2024"}, []string{"#safeGuarding", "EndSlavery"})
	if strings.Join(got, " ") != "#Safeguarding #EndSlavery" {
		t.Errorf("hashtags = %q", got)
	}
}
