package post

import "testing"

func TestCanonicalLink(t *testing.T) {
	same := []string{
		"https://camaca.example/news/vigil",
		"https://camaca.example/news/vigil/",
		"http://CAMACA.example/news/vigil",
		"https://camaca.example:443/news/vigil#comments",
		"https://camaca.example/news/vigil?utm_source=rss&utm_medium=feed",
	}
	for _, l := range same {
		if got := CanonicalLink(l); got != "https://camaca.example/news/vigil" {
			t.Errorf("CanonicalLink(%q) = %q", l, got)
		}
	}
	if CanonicalLink("https://camaca.example/news/vigil?id=2") == CanonicalLink("https://camaca.example/news/vigil?id=3") {
		t.Error("a real query parameter tells pages apart")
	}
}
