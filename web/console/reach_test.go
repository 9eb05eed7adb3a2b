package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// fakeReach stands in for the daemon's reach (hooks.go's ReachSource): it
// answers from fixed data and records what the console asked.
type fakeReach struct {
	mu         sync.Mutex
	posts      map[string][]ChannelReach
	period     []PostReach
	asked      [][2]time.Time
	refreshed  []string
	refreshErr error
	postErr    error
}

func (f *fakeReach) Post(ctx context.Context, id string) ([]ChannelReach, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[id], f.postErr
}

func (f *fakeReach) Period(ctx context.Context, from, to time.Time) ([]PostReach, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, [2]time.Time{from, to})
	var out []PostReach
	for _, p := range f.period {
		if !p.At.Before(from) && p.At.Before(to) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (f *fakeReach) Refresh(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshed = append(f.refreshed, id)
	return f.refreshErr
}

func (f *fakeReach) lastAsked() [2]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[len(f.asked)-1]
}

// sentPost stores a post that went out at at on the channels.
func (b *bundle) sentPost(t *testing.T, id, title string, at time.Time, chans ...string) {
	t.Helper()
	ctx := context.Background()
	p := post.Post{ID: id, Title: title, PublishAt: at, Source: post.Source{Kind: "markdown", Name: "posts", Key: id}}
	if err := b.st.SavePost(ctx, p, store.PostPublished, at); err != nil {
		t.Fatal(err)
	}
	for _, ch := range chans {
		if _, err := b.st.DB().ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
			id, ch, string(store.DeliverySent), at); err != nil {
			t.Fatal(err)
		}
	}
}

// vigilReach is a week-old post's reach: Mastodon read three times, the
// last read failed; the newsletter with its own counts; Discord reactions.
func vigilReach(now time.Time) []ChannelReach {
	sent := now.Add(-7 * 24 * time.Hour)
	c := channels.CountOf
	masto := func(replies, boosts, favs int64) channels.Counters {
		return channels.Counters{Replies: c(replies), Reposts: c(boosts), Likes: c(favs)}
	}
	return []ChannelReach{{
		Channel: "mastodon", Type: "mastodon",
		// The last good read lost the boosts (a part was deleted): not
		// available now, though an earlier read had them.
		Latest: channels.Counters{Replies: c(2), Likes: c(12)},
		History: []ReachPoint{
			{At: sent.Add(time.Hour), Counters: masto(0, 1, 3)},
			{At: sent.Add(6 * time.Hour), Counters: masto(1, 3, 8)},
			{At: sent.Add(24 * time.Hour), Counters: channels.Counters{Replies: c(2), Likes: c(12)}},
		},
		LastRead: sent.Add(24 * time.Hour), NextRead: now.Add(2 * time.Hour),
		LastError: "temporary: 502 Bad Gateway",
		Replies: []channels.Reply{
			{Author: "@old@example.social", At: sent.Add(2 * time.Hour), Excerpt: "First!", URL: "https://example.social/@old/1"},
			{Author: "@ana@example.social", At: sent.Add(5 * time.Hour), Warning: "grief", Excerpt: "We lost <b>Sam</b> & <script>alert(1)</script>", URL: "https://example.social/@ana/2"},
			{Author: "@mal@example.social", At: sent.Add(3 * time.Hour), Excerpt: "click me", URL: "javascript:alert(1)"},
		},
	}, {
		Channel: "newsletter", Type: "email",
		Extra: []NamedCount{{"delivered", c(480)}, {"bounced", c(3)}, {"clicks", c(41)}, {"clicks https://camaca.example/petition?a=1&b=2", c(30)},
			{"clicks https://camaca.example/map", c(11)}, {"archive views", channels.Count{}}},
		History: []ReachPoint{
			{At: sent.Add(time.Hour), Extra: []NamedCount{{"delivered", c(470)}, {"clicks", c(10)}}},
			{At: sent.Add(24 * time.Hour), Extra: []NamedCount{{"delivered", c(480)}, {"clicks", c(41)}}},
		},
		LastRead: sent.Add(24 * time.Hour),
	}, {
		Channel: "discord", Type: "discord", Latest: channels.Counters{Reactions: c(5)}, LastRead: sent.Add(time.Hour),
		Notes: []string{"Discord gives no reply count."},
	}}
}

// withReach gives the bundle's console a fake reach.
func (b *bundle) withReach(f *fakeReach) *fakeReach {
	b.c.opts.Reach = f
	return f
}

func parseHTML(t *testing.T, body string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func byID(n *html.Node, id string) *html.Node {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		for _, a := range c.Attr {
			if a.Key == "id" && a.Val == id {
				return c
			}
		}
		if f := byID(c, id); f != nil {
			return f
		}
	}
	return nil
}

// spaced is n's text with a space between elements (as a screen reader
// reads "Replies 2" from a <dt> and its <dd>), whitespace folded.
func spaced(n *html.Node) string {
	var parts []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			parts = append(parts, n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
			// Card labels and a cell's detail are blocks (console.css).
			if cls := " " + attr(c, "class") + " "; c.Type == html.ElementNode &&
				(!inline[c.Data] || strings.Contains(cls, " cell-label ") || strings.Contains(cls, " detail ")) {
				parts = append(parts, " ")
			}
		}
	}
	walk(n)
	return squash(strings.Join(parts, ""))
}

var inline = map[string]bool{"a": true, "span": true, "time": true, "strong": true, "em": true, "b": true}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestReachPanelShowsHonestNumbers: the post page's Reach panel shows per
// channel the counts ("not available", never 0, for what a network does
// not give or a read lost), the last good read after a failed one, the
// next read, the channel's own counts, a chart with its text alternative,
// and the replies newest first, with warnings and only http(s) links.
func TestReachPanelShowsHonestNumbers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.now.Now()
	b.sentPost(t, "md:vigil", "Vigil", now.Add(-7*24*time.Hour), "mastodon", "newsletter", "discord")
	b.withReach(&fakeReach{posts: map[string][]ChannelReach{"md:vigil": vigilReach(now)}})
	p := b.browser(t).signedIn("author@example.org").get("/posts/md:vigil")
	if p.status != http.StatusOK {
		t.Fatalf("post page: %d", p.status)
	}
	doc := parseHTML(t, p.body)
	masto := byID(doc, "reach-mastodon")
	if masto == nil {
		t.Fatalf("no Mastodon reach panel:\n%s", p.body)
	}
	text := spaced((masto))
	for _, want := range []string{
		"Replies 2", "Boosts not available", "Favourites 12",
		"Not available on this network: quotes, reactions.",
		"Last good read: Fri 25 Apr 2031 10:00 BST.", "Next read: Thu 1 May 2031 12:00 BST.",
		"The last read failed: the numbers above are from the last good read, Fri 25 Apr 2031 10:00 BST.",
		"Error: temporary: 502 Bad Gateway",
		"3 reads from Thu 24 Apr 2031 11:00 BST to Fri 25 Apr 2031 10:00 BST: replies from 0 to 2; boosts from 1 to 3; favourites from 3 to 12.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Mastodon panel lacks %q:\n%s", want, text)
		}
	}
	if regexp.MustCompile(`Boosts 0|Quotes 0`).MatchString(text) {
		t.Errorf("a counter not available shows as 0: %s", text)
	}
	// The chart: an image with a title and the summary as its
	// description, a line per counter broken where a read lacked it, and
	// its numbers as a table (a row per read).
	svgs := htmlFind(masto, "svg")
	if len(svgs) == 0 || attr(svgs[0], "role") != "img" || !strings.Contains(attr(svgs[0], "aria-labelledby"), "-d") {
		t.Fatalf("no accessible chart in %s", text)
	}
	if got := len(htmlFind(svgs[0], "polyline")); got != 3 {
		t.Errorf("the chart draws %d lines, want 3 (replies, boosts, favourites)", got)
	}
	if got := len(htmlFind(svgs[0], "circle")); got != 8 {
		t.Errorf("the chart marks %d reads, want 8 (boosts lack the last)", got)
	}
	rows := htmlFind(htmlFind(masto, "tbody")[0], "tr")
	if len(rows) != 3 || !strings.HasSuffix(htmlText(htmlFind(rows[2], "td")[2]), "not available") {
		t.Errorf("the chart's table: %d rows, the last %q", len(rows), spaced((rows[len(rows)-1])))
	}
	// Replies: newest first, the warned one behind its warning, no
	// javascript: link, markup shown as text.
	replies := htmlFindClass(masto, "reply")
	var order []string
	for _, r := range replies {
		order = append(order, htmlText(htmlFindClass(r, "handle")[0]))
	}
	if strings.Join(order, " ") != "@ana@example.social @mal@example.social @old@example.social" {
		t.Errorf("replies in the order %v, want newest first", order)
	}
	if d := htmlFind(replies[0], "details"); len(d) != 1 || !strings.Contains(htmlText(d[0]), "Content warning: grief") ||
		!strings.Contains(htmlText(d[0]), "We lost <b>Sam</b> & <script>") {
		t.Errorf("the warned reply: %q", spaced((replies[0])))
	}
	if strings.Contains(p.body, "<script>alert") || strings.Contains(p.body, `href="javascript:`) {
		t.Error("a reply's markup or javascript: link reached the page")
	}
	if len(htmlFind(replies[1], "a")) != 0 || len(htmlFind(replies[0], "a")) != 1 {
		t.Error("the javascript: reply is linked, or the https one is not")
	}
	// The newsletter's own counts, "not available" for page views.
	news := spaced((byID(doc, "reach-newsletter")))
	for _, want := range []string{"Delivered 480", "Bounced 3", "Clicks 41", "Archive views not available", "Last good read", "No more reads are scheduled.",
		"Clicks per link 30 https://camaca.example/petition?a=1&b=2 11 https://camaca.example/map"} {
		if !strings.Contains(news, want) {
			t.Errorf("the newsletter panel lacks %q: %s", want, news)
		}
	}
	// A link's clicks are listed, not drawn: the chart has delivered and
	// clicks only.
	if strings.Contains(news, "Archive views 0") || len(htmlFind(htmlFind(byID(doc, "reach-newsletter"), "svg")[0], "polyline")) != 2 {
		t.Errorf("the newsletter panel: %s", news)
	}
	disc := spaced((byID(doc, "reach-discord")))
	if !strings.Contains(disc, "Reactions 5") || !strings.Contains(disc, "Last good read: Thu 24 Apr 2031 11:00 BST.") ||
		!strings.Contains(disc, "Discord gives no reply count.") || len(htmlFind(byID(doc, "reach-discord"), "svg")) != 0 {
		t.Errorf("the Discord panel: %s", disc)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// TestReachRefresh: Refresh is a POST with the form's CSRF token; it asks
// the source to read now and says so, or says why it could not; pressed
// again within a minute it does not read again.
func TestReachRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sentPost(t, "md:vigil", "Vigil", b.now.Now().Add(-time.Hour), "mastodon")
	f := b.withReach(&fakeReach{posts: map[string][]ChannelReach{"md:vigil": vigilReach(b.now.Now())}})
	br := b.browser(t).signedIn("author@example.org")
	if p := br.post("/posts/md:vigil/reach", url.Values{}); p.status != http.StatusForbidden || len(f.refreshed) != 0 {
		t.Fatalf("a refresh without the CSRF token: %d, refreshed %v", p.status, f.refreshed)
	}
	page := br.get("/posts/md:vigil")
	if !strings.Contains(page.body, `action="/posts/md:vigil/reach"`) {
		t.Fatal("the post page has no Refresh form")
	}
	p := br.post("/posts/md:vigil/reach", url.Values{"csrf": {br.csrf()}})
	if p.status != http.StatusSeeOther || p.loc != "/posts/md:vigil?done=refreshed" || strings.Join(f.refreshed, " ") != "md:vigil" {
		t.Fatalf("refresh: %d %s, refreshed %v", p.status, p.loc, f.refreshed)
	}
	if got := br.get(p.loc).body; !strings.Contains(got, "Reach read again.") {
		t.Error("the page after a refresh does not say so")
	}
	// Pressed again within a minute, it does not read again.
	p = br.post("/posts/md:vigil/reach", url.Values{"csrf": {br.csrf()}})
	if p.status != http.StatusTooManyRequests || len(f.refreshed) != 1 ||
		!strings.Contains(p.body, "The numbers were read less than a minute ago: press Refresh again after 10:01:00.") {
		t.Fatalf("a second refresh at once: %d, refreshed %v", p.status, f.refreshed)
	}
	b.now.Add(time.Minute)
	f.mu.Lock()
	f.refreshErr = errors.New("rate limited: mastodon asks to wait 7s")
	f.mu.Unlock()
	p = br.post("/posts/md:vigil/reach", url.Values{"csrf": {br.csrf()}})
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "The counters could not be read now: rate limited: mastodon asks to wait 7s") {
		t.Errorf("a failed refresh: %d %s", p.status, p.body)
	}
	if p := br.post("/posts/md:nope/reach", url.Values{"csrf": {br.csrf()}}); p.status != http.StatusNotFound {
		t.Errorf("refreshing an unknown post: %d", p.status)
	}
}

// TestReachPanelWhenReadingFails: a reach source that fails leaves the
// post page showing, with the panel saying so; no source hides reach.
func TestReachPanelWhenReadingFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sentPost(t, "md:vigil", "Vigil", b.now.Now().Add(-time.Hour), "mastodon")
	br := b.browser(t).signedIn("author@example.org")
	p := br.get("/posts/md:vigil")
	if strings.Contains(p.body, `id="reach-h"`) || strings.Contains(p.body, `href="/worked"`) {
		t.Error("without a reach source the page shows Reach or What worked")
	}
	if p := br.get("/worked"); p.status != http.StatusNotFound {
		t.Errorf("What worked without a reach source: %d", p.status)
	}
	b.withReach(&fakeReach{postErr: errors.New("database is locked")})
	p = br.get("/posts/md:vigil")
	if p.status != http.StatusOK || !strings.Contains(p.body, "What this post reached could not be read just now") ||
		strings.Contains(p.body, "database is locked") || !strings.Contains(p.body, `href="/worked"`) {
		t.Errorf("with a failing source: %d %s", p.status, p.body)
	}
}
