package console

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/subscribers"
	"golang.org/x/net/html"
)

// TestCardsLabelEveryValue: on a phone the lists become cards, where the
// column headers are gone; each value then carries its label (shown and
// read only at phone widths, console.css), the same words as its column's
// header (issue 20).
func TestCardsLabelEveryValue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.supporters(t).Add(context.Background(), subscribers.Subscriber{Email: "sam.okafor@example.org", Name: "Sam Okafor"}); err != nil {
		t.Fatal(err)
	}
	owner := b.browser(t).signedIn("owner@example.org")
	owner.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	// What worked and the post page's chart numbers too (issue 24).
	b.workedFixture(t).posts = map[string][]ChannelReach{"md:vigil": vigilReach(b.now.Now())}
	for _, page := range []string{"/posts", "/users", "/supporters?q=okafor", "/worked?period=90", "/posts/md:vigil"} {
		p := owner.get(page)
		doc, err := html.Parse(strings.NewReader(p.body))
		if err != nil {
			t.Fatal(err)
		}
		tables := htmlFind(doc, "table")
		if len(tables) == 0 {
			t.Fatalf("%s has no table", page)
		}
		for _, table := range tables {
			var heads []string
			for _, th := range htmlFind(table, "th") {
				// A sorted column's arrow is not read (aria-hidden).
				heads = append(heads, strings.TrimRight(strings.TrimSpace(htmlText(th)), " ▲▼"))
			}
			rows := htmlFind(table, "tbody")
			if len(rows) == 0 || len(htmlFind(rows[0], "td")) == 0 {
				t.Fatalf("%s: a table without rows", page)
			}
			for _, tr := range htmlFind(rows[0], "tr") {
				for i, td := range htmlFind(tr, "td") {
					if i >= len(heads) || heads[i] == "Actions" {
						continue
					}
					labels := htmlFindClass(td, "cell-label")
					if len(labels) == 0 || htmlText(labels[0]) != heads[i] {
						t.Errorf("%s: the value under %q has no label saying so: %q", page, heads[i], htmlText(td))
					}
				}
			}
		}
	}
}

func htmlFind(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			out = append(out, c)
		}
		out = append(out, htmlFind(c, tag)...)
	}
	return out
}

func htmlFindClass(n *html.Node, class string) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		for _, a := range c.Attr {
			if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+class+" ") {
				out = append(out, c)
			}
		}
		out = append(out, htmlFindClass(c, class)...)
	}
	return out
}

func htmlText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var s strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		s.WriteString(htmlText(c))
	}
	return s.String()
}
