package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/crierhq/crier/archive"
)

// TestArchiveFeedCarriesText reads the archive feed as a feed reader does:
// a real feed parser, then the description as the HTML RSS 2.0 says it is.
// A summary full of markup must reach the reader as those characters, with
// no element in it.
func TestArchiveFeedCarriesText(t *testing.T) {
	t.Parallel()
	f, arch := newPrefsFixture(t, "both")
	summary := `</p><script>alert("feed")</script><img src=x onerror=alert(1)> Tom & Jerry &amp; <b>co</b>`
	err := arch.Record(context.Background(), archive.Entry{ID: "post:md:hostile", Kind: "post", Subject: "Vigil <b>tonight</b>",
		Summary: summary, HTML: "<p>Vigil</p>", SentAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	raw := read(t, f.do(httptest.NewRequest("GET", "/archive/feed.xml", nil), "192.0.2.1"))
	feed, err := gofeed.NewParser().ParseString(raw)
	if err != nil {
		t.Fatalf("parsing the feed: %v\n%s", err, raw)
	}
	if len(feed.Items) != 1 {
		t.Fatalf("items %+v\n%s", feed.Items, raw)
	}
	if got := feed.Items[0].Title; got != "Vigil <b>tonight</b>" {
		t.Errorf("title (plain text in RSS 2.0) = %q", got)
	}
	for what, desc := range map[string]string{"item": feed.Items[0].Description, "channel": feed.Description} {
		text, elements := readAsHTML(t, desc)
		if len(elements) > 0 {
			t.Errorf("the %s description decodes to elements %v: %q\n%s", what, elements, desc, raw)
		}
		if what == "item" && text != summary {
			t.Errorf("the reader sees %q, want the summary %q", text, summary)
		}
	}
}

// readAsHTML parses s as an HTML fragment, as a feed reader renders a
// description, and returns its text and the names of any elements in it.
func readAsHTML(t *testing.T, s string) (text string, elements []string) {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			elements = append(elements, n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return b.String(), elements
}
