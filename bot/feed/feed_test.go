package feed

import (
	"bytes"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/post"
)

func parseFixture(t *testing.T, name, base string) Result {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse("news", f, base)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// want lists what one item must have; empty fields are not checked.
type want struct {
	key, title, summary, link, language string
	bodyHas, bodyLacks                  []string
	tags                                []string
	image                               *post.Image
	publishAt                           time.Time
}

func checkItem(t *testing.T, it Item, w want) {
	t.Helper()
	p := it.Post
	if w.key != "" && it.Key != w.key {
		t.Errorf("key %q, want %q", it.Key, w.key)
	}
	if p.ID != ItemID("news", it.Key) || !strings.HasPrefix(p.ID, "feed:news:") || len(p.ID) != len("feed:news:")+16 {
		t.Errorf("id %q does not follow feed:<name>:<16 hex of the key's hash>", p.ID)
	}
	if p.Source.Kind != "feed" || p.Source.Name != "news" || p.Source.Key != it.Key || p.Source.Ref != p.Link || p.Source.Hash != p.ContentHash() {
		t.Errorf("source %+v", p.Source)
	}
	for _, c := range []struct{ field, got, want string }{
		{"title", p.Title, w.title}, {"summary", p.Summary, w.summary}, {"link", p.Link, w.link}, {"language", p.Language, w.language},
	} {
		if c.want != "" && c.got != c.want {
			t.Errorf("%s:\n got  %q\n want %q", c.field, c.got, c.want)
		}
	}
	for _, s := range w.bodyHas {
		if !strings.Contains(p.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, p.Body)
		}
	}
	for _, s := range w.bodyLacks {
		if strings.Contains(p.Body, s) {
			t.Errorf("body has %q:\n%s", s, p.Body)
		}
	}
	if w.tags != nil && !reflect.DeepEqual(p.Tags, w.tags) {
		t.Errorf("tags %q, want %q", p.Tags, w.tags)
	}
	if w.image != nil && !reflect.DeepEqual(p.Image, w.image) {
		t.Errorf("image %+v, want %+v", p.Image, w.image)
	}
	if !p.PublishAt.Equal(w.publishAt) {
		t.Errorf("publish_at %v, want %v", p.PublishAt, w.publishAt)
	}
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file, base string
		title      string
		items      []want
	}{
		{
			file: "wordpress.xml", title: "CAMACA – Campaign News",
			items: []want{{
				key:      "https://camaca.example/?p=1042",
				title:    "ICAT’s “Call to Action” & why it isn’t enough",
				summary:  "On 8 November 2023 ICAT issued a “Call to Action” for the “implementation of comprehensive measures to prevent child trafficking and protect the victims of this rapidly growing crime”. It is good, but our 4 point plan is what is ultimately needed.",
				link:     "https://camaca.example/2023/11/09/icat-call-to-action/",
				language: "en-GB",
				bodyHas: []string{
					"getting *worse* again",
					"![A broken chain](https://camaca.example/wp-content/uploads/2023/11/chain-1024x683.jpg)",
					"> “Shielding children",
					"[our 4 point plan](https://camaca.example/plan/) & [Support this Campaign](https://camaca.example/support/)",
				},
				bodyLacks: []string{"srcset", "<figure", "&#8217;", "class=", "appeared first on"},
				tags:      []string{"Child Trafficking", "Human Rights"},
				image:     &post.Image{URL: "https://camaca.example/wp-content/uploads/2023/11/chain-1024x683.jpg", Alt: "A broken chain"},
				publishAt: time.Date(2023, 11, 9, 10, 12, 45, 0, time.UTC),
			}, {
				key:       "https://camaca.example/?p=1001",
				title:     "Special Report: No Future",
				summary:   "A short description with no markup & an ampersand.",
				bodyHas:   []string{"A short description with no markup & an ampersand."},
				image:     &post.Image{URL: "https://camaca.example/wp-content/uploads/2023/10/no-future.jpg"},
				tags:      []string{"Reports"},
				publishAt: time.Date(2023, 10, 2, 8, 0, 0, 0, time.UTC),
			}},
		},
		{
			// xml:base on the feed and on the entry; a root-relative link.
			file: "atom.xml", base: "https://fetched.example/atom.xml", title: "CAMACA Blog",
			items: []want{{
				key:       "tag:camaca.example,2024:rising-again",
				title:     "Victims are rising again",
				summary:   "Back at pre-pandemic levels, and rising.",
				link:      "https://camaca.example/blog/posts/2024/rising-again.html",
				language:  "en",
				bodyHas:   []string{"[the report](https://camaca.example/blog/report/2024)", "![Victims per year](https://camaca.example/blog/posts/2024/img/graph.png)"},
				tags:      []string{"child trafficking", "statistics"},
				image:     &post.Image{URL: "https://camaca.example/blog/posts/2024/img/graph.png", Alt: "Victims per year"},
				publishAt: time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC),
			}, {
				// Only <updated>: it stands in for the publication date.
				title:     "Radical Action",
				link:      "https://camaca.example/campaigns/radical-action",
				bodyHas:   []string{"**Radical Action**", "[Support us](https://camaca.example/blog/support)"},
				publishAt: time.Date(2024, 4, 1, 10, 0, 0, 0, time.UTC),
			}},
		},
		{
			file: "jsonfeed.json", title: "CAMACA",
			items: []want{{
				title:     "Full Sentence Campaign",
				publishAt: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC),
			}, {
				key:       "https://camaca.example/news/unodc",
				title:     "UNODC is not up to the job",
				summary:   "A year of failure at the UN's lead agency.",
				bodyHas:   []string{"[Our plan](https://camaca.example/plan)"},
				tags:      []string{"UNODC", "United Nations"},
				image:     &post.Image{URL: "https://camaca.example/images/unodc.jpg"},
				publishAt: time.Date(2024, 2, 10, 10, 0, 0, 0, time.UTC),
			}, {
				// content_text keeps its paragraphs; the title is made up
				// from the text; no date sorts last and stays zero.
				key:      "note-17",
				title:    "A note without a title or a date. It has two paragraphs & an ampersand.",
				link:     "https://camaca.example/notes/17",
				language: "en",
				bodyHas:  []string{"A note without a title or a date.\n\nIt has two paragraphs & an ampersand."},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseFixture(t, tt.file, tt.base)
			if res.Title != tt.title {
				t.Errorf("feed title %q, want %q", res.Title, tt.title)
			}
			if len(res.Items) != len(tt.items) {
				t.Fatalf("%d items, want %d", len(res.Items), len(tt.items))
			}
			for i, w := range tt.items {
				t.Run(res.Items[i].Post.Title, func(t *testing.T) { checkItem(t, res.Items[i], w) })
			}
			if len(res.Warnings) != 0 {
				t.Errorf("warnings %q", res.Warnings)
			}
		})
	}
}

func TestMissingDatesAndDuplicates(t *testing.T) {
	res := parseFixture(t, "nodates.xml", "")
	var titles []string
	for _, it := range res.Items {
		titles = append(titles, it.Post.Title)
	}
	// Newest first; undated items after the dated ones, in document order;
	// the repeat of GUID "a" dropped; the untitled item titled by its text.
	wantTitles := []string{"New", "Old", "Undated first", "Undated second", "No title, no link, no guid: only this text."}
	if !reflect.DeepEqual(titles, wantTitles) {
		t.Errorf("order %q\nwant  %q", titles, wantTitles)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `item 5 repeats the id "a" of item 1`) {
		t.Errorf("warnings %q", res.Warnings)
	}
	if got := res.Items[2].Post.Body; got != "A" {
		t.Errorf("kept the wrong duplicate: body %q", got)
	}
	// GUID, then link, then a hash of the content.
	if res.Items[3].Key != "https://camaca.example/c" || !strings.HasPrefix(res.Items[4].Key, "sha256:") {
		t.Errorf("fallback keys %q, %q", res.Items[3].Key, res.Items[4].Key)
	}
	for _, it := range res.Items[2:] {
		if !it.Post.PublishAt.IsZero() {
			t.Errorf("%s: undated item got %v", it.Post.Title, it.Post.PublishAt)
		}
	}
}

func TestHostileItem(t *testing.T) {
	res := parseFixture(t, "hostile.xml", "")
	if len(res.Items) != 1 {
		t.Fatalf("%d items", len(res.Items))
	}
	p := res.Items[0].Post
	for field, s := range map[string]string{"title": p.Title, "summary": p.Summary, "body": p.Body, "feed title": res.Title} {
		low := strings.ToLower(s)
		for _, bad := range []string{"<script", "javascript:", "vbscript:", "onerror", "onclick", "onload", "<iframe", "<form", "<svg", "<style", "display:none", "data:image", "evil.example", "alert(1)", "alert(4)", "alert(9)"} {
			if strings.Contains(low, bad) {
				t.Errorf("%s keeps %q: %q", field, bad, s)
			}
		}
	}
	if p.Link != "" || p.Source.Ref != "" {
		t.Errorf("a javascript: link survived as the post link: %q", p.Link)
	}
	if p.Image != nil {
		t.Errorf("a javascript: enclosure survived as the image: %+v", p.Image)
	}
	if p.Title != "Click me" {
		t.Errorf("title %q", p.Title)
	}
	if !strings.Contains(p.Body, "[good link](https://camaca.example/ok)") || !strings.Contains(p.Body, "bad link") {
		t.Errorf("the harmless parts did not survive: %q", p.Body)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not a web address") {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// A re-GUIDed or re-dated item with the same content hashes the same, so the
// store can tell it is not news; an edit changes the hash.
func TestContentHash(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "wordpress.xml"))
	if err != nil {
		t.Fatal(err)
	}
	parse := func(doc string) Item {
		t.Helper()
		res, err := Parse("news", strings.NewReader(doc), "")
		if err != nil {
			t.Fatal(err)
		}
		return res.Items[0]
	}
	orig := parse(string(src))
	regood := parse(strings.NewReplacer("?p=1042", "?p=9999", "Thu, 09 Nov 2023 10:12:45", "Fri, 10 Nov 2023 11:00:00").Replace(string(src)))
	edited := parse(strings.Replace(string(src), "getting <em>worse</em>", "getting <em>much worse</em>", 1))
	if regood.Post.ID == orig.Post.ID || regood.Post.PublishAt.Equal(orig.Post.PublishAt) {
		t.Fatal("the fixture edit did not change the GUID and the date")
	}
	if regood.Post.Source.Hash != orig.Post.Source.Hash {
		t.Error("a new GUID and date changed the content hash")
	}
	if edited.Post.Source.Hash == orig.Post.Source.Hash || edited.Post.ID != orig.Post.ID {
		t.Error("an edit kept the content hash (or changed the id)")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"empty", "  \n", "the document is empty"},
		{"html page", "<!DOCTYPE html>\n<html><head><title>Not found</title></head><body>404</body></html>", `not an RSS, Atom or JSON feed (it starts "<!DOCTYPE html>`},
		{"truncated xml", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</ti`, "XML syntax error on line 1"},
		{"truncated json", `{"version": "https://jsonfeed.org/version/1.1", "items": [`, "unexpected end of JSON input"},
		{"json of the wrong shape", `{"version": "https://jsonfeed.org/version/1.1", "items": 5}`, "cannot unmarshal number"},
		{"json that is not a feed", `{"foo": 1}`, "not a JSON Feed"},
		{"plain text", "hello", "not an RSS, Atom or JSON feed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("news", strings.NewReader(tt.doc), "")
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), `feed "news"`) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name the feed and say %q", err, tt.want)
			}
		})
	}
}

func TestHTMLHelpers(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Hello <b>world</b>", "Hello world"},
		{"<p>one</p><p>two</p>", "one two"},
		{"Fish &amp;amp; chips", "Fish &amp; chips"},
		{"Fish &amp; chips", "Fish & chips"},
		{"a < b", "a < b"},
		{"x<script>alert(1)</script>y", "xy"},
		{"see javascript:void(0)", "see javascript%3Avoid(0)"},
		{"  spaced \n\t out  ", "spaced out"},
		{`<p>Short text [&hellip;]</p><p>The post <a href="https://camaca.example/x">Short</a> appeared first on <a href="https://camaca.example">CAMACA</a>.</p>`, "Short text […]"},
	} {
		if got := plainText(tt.in); got != tt.want {
			t.Errorf("plainText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{"Short.", 10, "Short."},
		{"First sentence here. Second sentence is longer than the limit.", 40, "First sentence here."},
		{"one two three four five six seven", 16, "one two three…"},
		{"Excerpt ends [&hellip;]", 100, "Excerpt ends…"},
		{"Excerpt ends […]", 100, "Excerpt ends…"},
		{"ééééé ééééé ééééé", 8, "ééééé…"},
	} {
		if got := shorten(tt.in, tt.limit); got != tt.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

// The shipped sample feed parses into posts with absolute camaca.example links.
func TestSampleFeed(t *testing.T) {
	var f Fetcher
	res, err := f.Fetch(t.Context(), "campaign-site", filepath.Join("..", "..", "feeds", "campaign-site.xml"), Conditional{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Items); n < 3 || n > 4 {
		t.Errorf("%d items, want 3 or 4", n)
	}
	images := 0
	for _, it := range res.Items {
		p := it.Post
		if !strings.HasPrefix(p.Link, "https://camaca.example/") {
			t.Errorf("%s: link %q", p.Title, p.Link)
		}
		if strings.Contains(p.Body, "](/") {
			t.Errorf("%s: relative link left in the body: %s", p.Title, p.Body)
		}
		if p.Image != nil {
			images++
			if !strings.HasPrefix(p.Image.URL, "https://camaca.example/") || p.Image.Alt == "" {
				t.Errorf("%s: image %+v", p.Title, p.Image)
			}
		}
		if p.Summary == "" || p.Body == "" || p.PublishAt.IsZero() || len(p.Tags) == 0 || p.Language != "en" {
			t.Errorf("%s: incomplete post %+v", p.Title, p)
		}
	}
	if images != 1 {
		t.Errorf("%d items with an image, want 1", images)
	}
	if res.Conditional.ETag == "" || res.Conditional.LastModified == "" {
		t.Errorf("no validators for the local file: %+v", res.Conditional)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"wordpress.xml", "atom.xml", "jsonfeed.json", "hostile.xml", "nodates.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<rss version="2.0"><channel><item><title>&lt;script&gt;</title><description>&lt;a href="javascript:x"&gt;</description></item></channel></rss>`))
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","content_text":"<scr<script>ipt>"}]}`))
	// Issue 18: HTML nested past markdown.MaxDepth.
	f.Add(deepFeed("<blockquote><ul><li>", "</li></ul></blockquote>", 40))
	f.Add(deepFeed("<ol><li><em>", "</em></li></ol>", 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse("fuzz", bytes.NewReader(data), "https://camaca.example/feed/")
		if err != nil {
			return
		}
		for _, it := range res.Items {
			if it.Key == "" || it.Post.ID == "" || it.Post.Title == "" {
				t.Fatalf("item without key, id or title: %+v", it)
			}
			for field, s := range map[string]string{"body": it.Post.Body, "summary": it.Post.Summary, "title": it.Post.Title} {
				low := strings.ToLower(s)
				if strings.Contains(low, "<script") || strings.Contains(low, "javascript:") {
					t.Fatalf("%s keeps a script: %q", field, s)
				}
			}
			if it.Post.Link != "" && !strings.HasPrefix(it.Post.Link, "http://") && !strings.HasPrefix(it.Post.Link, "https://") {
				t.Fatalf("link is not a web address: %q", it.Post.Link)
			}
		}
	})
}

// Issue 9: alt text written by people survives the sanitiser whatever its
// punctuation, both as the post's image alt and in the body.
func TestAltTextSurvivesPunctuation(t *testing.T) {
	for _, alt := range []string{
		"Chart: victims 2010-2024",
		"Is it rising?",
		"50% more children identified than in 2019",
		"Children & families at the Lisbon march",
		`Banner reading "Not for sale"`,
		"Map; trafficking routes into Europe (UNODC, 2024)",
		"A child's drawing — age 7 — of a house",
		"Ärzte ohne Grenzen: Zahlen für 2023",
		"Graph #3: 1 in 4 victims is a child",
		"Cost per victim: €2,500 / $2,700",
	} {
		item := `<item><title>Report</title><link>https://camaca.example/report</link>` +
			`<description><![CDATA[<p>Text</p><img src="/img/chart.png" alt="` + html.EscapeString(alt) + `">]]></description></item>`
		res, err := Parse("news", strings.NewReader(`<rss version="2.0"><channel><title>T</title>`+item+`</channel></rss>`), "")
		if err != nil {
			t.Fatal(err)
		}
		p := res.Items[0].Post
		if p.Image == nil || p.Image.Alt != alt {
			t.Errorf("alt %q: image %+v", alt, p.Image)
		}
		if !strings.Contains(p.Body, "![") || !strings.Contains(p.Body, "chart.png") {
			t.Errorf("alt %q: the body lost the picture: %q", alt, p.Body)
		}
		if strings.Contains(p.Body, "![](") {
			t.Errorf("alt %q: the body's picture lost its alt text: %q", alt, p.Body)
		}
	}
}

// Issue 9: only an address that looks like a picture becomes the post's
// image; a hostile or broken <img> is dropped, never resolved into a page
// address on the campaign's site.
func TestInlineImagePromotion(t *testing.T) {
	for _, tc := range []struct {
		name, html string
		image      string // "" for none
		bodyLacks  []string
	}{
		{"hostile", `<p>Hi</p><img src=x onerror=alert(1)>`, "", []string{"/post/x", "onerror", "alert"}},
		{"query only", `<p>Hi</p><img src="?id=3">`, "", []string{"?id=3"}},
		{"no src", `<p>Hi</p><img alt="lost">`, "", []string{"lost"}},
		{"relative picture", `<p>Hi</p><img src="img/chart.png" alt="Chart">`, "https://camaca.example/post/img/chart.png", nil},
		{"absolute picture", `<img src="https://cdn.camaca.example/a/photo.JPG?w=800" alt="Photo">`, "https://cdn.camaca.example/a/photo.JPG?w=800", nil},
		{"absolute non-picture first", `<img src="https://stats.example/pixel" alt=""><img src="https://camaca.example/b.webp" alt="B">`, "https://camaca.example/b.webp", nil},
	} {
		item := `<item><title>Post</title><link>https://camaca.example/post/</link><description><![CDATA[` + tc.html + `]]></description></item>`
		res, err := Parse("news", strings.NewReader(`<rss version="2.0"><channel><title>T</title>`+item+`</channel></rss>`), "")
		if err != nil {
			t.Fatal(err)
		}
		p := res.Items[0].Post
		switch {
		case tc.image == "" && p.Image != nil:
			t.Errorf("%s: image %+v, want none", tc.name, p.Image)
		case tc.image != "" && (p.Image == nil || p.Image.URL != tc.image):
			t.Errorf("%s: image %+v, want %s", tc.name, p.Image, tc.image)
		}
		for _, s := range tc.bodyLacks {
			if strings.Contains(p.Body, s) {
				t.Errorf("%s: body keeps %q: %q", tc.name, s, p.Body)
			}
		}
	}
}

// TestSampleFeedMarksItselfAnExample: the shipped sample feed says so in
// the document, so its items stay examples even if the config's
// example: true is removed; an ordinary feed's items are not examples.
func TestSampleFeedMarksItselfAnExample(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "feeds", "campaign-site.xml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse("campaign-site", f, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) == 0 {
		t.Fatal("no items")
	}
	for _, it := range res.Items {
		if !it.Post.Example {
			t.Errorf("%s: an item of the sample feed must be an example", it.Post.ID)
		}
	}
	plain, err := Parse("site", strings.NewReader(`<rss version="2.0"><channel><title>x</title><item><guid>a</guid><title>A</title></item></channel></rss>`), "")
	if err != nil || len(plain.Items) != 1 || plain.Items[0].Post.Example {
		t.Fatalf("an ordinary feed's items are not examples: %v %+v", err, plain.Items)
	}
}
