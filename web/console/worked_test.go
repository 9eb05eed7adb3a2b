package console

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// workedFixture is three posts of the last weeks: a vigil on Mastodon and
// the newsletter, a petition whose title would run as a spreadsheet
// formula, and an old leaflet run outside the last 30 days.
func (b *bundle) workedFixture(t *testing.T) *fakeReach {
	t.Helper()
	now := b.now.Now()
	c := channels.CountOf
	vigil, petition, leaflet := now.Add(-2*24*time.Hour), now.Add(-10*24*time.Hour), now.Add(-40*24*time.Hour)
	b.sentPost(t, "md:vigil", "Vigil, \"candles\" & songs", vigil, "mastodon", "newsletter")
	b.sentPost(t, "md:petition", "=HYPERLINK(\"http://evil.example\",\"sign\")", petition, "mastodon", "discord")
	b.sentPost(t, "md:leaflet", "Leaflet run", leaflet, "discord")
	return b.withReach(&fakeReach{period: []PostReach{
		{PostID: "md:vigil", Title: "Vigil, \"candles\" & songs", Source: "markdown", Tags: []string{"vigil", "climate"}, At: vigil,
			Channels: []ChannelReach{
				{Channel: "mastodon", Type: "mastodon", Latest: channels.Counters{Replies: c(2), Reposts: c(3), Likes: c(12)}, LastRead: vigil.Add(time.Hour)},
				{Channel: "newsletter", Type: "email", Extra: []NamedCount{{"delivered", c(480)}, {"clicks", c(41)},
					{"clicks https://camaca.example/petition", c(41)}, {"archive views", c(4)}}},
			}},
		{PostID: "md:petition", Title: "=HYPERLINK(\"http://evil.example\",\"sign\")", Source: "-feed", Tags: []string{"petition"}, At: petition,
			Channels: []ChannelReach{
				{Channel: "mastodon", Type: "mastodon", Latest: channels.Counters{Replies: c(0), Likes: c(1)}},
				// Discord read nothing yet: not available, not 0.
				{Channel: "discord", Type: "discord"},
			}},
		{PostID: "md:leaflet", Title: "Leaflet run", Source: "markdown", Tags: []string{"climate"}, At: leaflet,
			Channels: []ChannelReach{{Channel: "discord", Type: "discord", Latest: channels.Counters{Reactions: c(7)}}}},
	}})
}

// workedTitles is the order of the posts on a What worked page.
func workedTitles(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	tables := htmlFind(parseHTML(t, body), "tbody")
	if len(tables) == 0 {
		return nil
	}
	for _, tr := range htmlFind(tables[0], "tr") {
		out = append(out, htmlText(htmlFind(tr, "a")[0]))
	}
	return out
}

// TestWhatWorkedPeriodFiltersAndSort: the page lists the period's posts
// with per-channel totals ("not available" for a channel that read
// nothing), asks the source for exactly the period (presets and custom
// dates in the campaign's zone, both days included), filters by channel,
// tag and source, and sorts by any column with "not available" last.
func TestWhatWorkedPeriodFiltersAndSort(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.workedFixture(t)
	br := b.browser(t).signedIn("author@example.org")
	now := b.now.Now()

	p := br.get("/worked")
	if p.status != http.StatusOK {
		t.Fatalf("/worked: %d %s", p.status, p.body)
	}
	if got := f.lastAsked(); !got[0].Equal(now.AddDate(0, 0, -30)) || !got[1].Equal(now) {
		t.Errorf("the default period asked for %v", got)
	}
	if got := strings.Join(workedTitles(t, p.body), " | "); got != `Vigil, "candles" & songs | =HYPERLINK("http://evil.example","sign")` {
		t.Errorf("last 30 days, newest first: %s", got)
	}
	doc := parseHTML(t, p.body)
	rows := htmlFind(htmlFind(doc, "tbody")[0], "tr")
	vigil, petition := spaced(rows[0]), spaced(rows[1])
	// Columns: Post, State, Source, Went out, Mastodon, Newsletter, Discord, Total.
	for _, want := range []string{"Mastodon 17", "2 replies · 3 boosts · 12 favourites", "Newsletter 45", "480 delivered · 41 clicks · 4 archive views", "Discord not sent there", "Total 62", "Sent"} {
		if !strings.Contains(vigil, want) {
			t.Errorf("the vigil's row lacks %q: %s", want, vigil)
		}
	}
	for _, want := range []string{"Mastodon 1", "Discord not available", "Total 1"} {
		if !strings.Contains(petition, want) {
			t.Errorf("the petition's row lacks %q: %s", want, petition)
		}
	}
	if strings.Contains(p.body, "<script") && strings.Contains(p.body, "evil") && !strings.Contains(p.body, "=HYPERLINK(&#34;") {
		t.Error("a title is not escaped")
	}

	for query, want := range map[string]string{
		"/worked?period=90":                                   "Vigil, \"candles\" & songs | =HYPERLINK(\"http://evil.example\",\"sign\") | Leaflet run",
		"/worked?period=90&channel=discord":                   "=HYPERLINK(\"http://evil.example\",\"sign\") | Leaflet run",
		"/worked?period=90&tag=climate":                       "Vigil, \"candles\" & songs | Leaflet run",
		"/worked?period=90&source=-feed":                      "=HYPERLINK(\"http://evil.example\",\"sign\")",
		"/worked?period=90&sort=total":                        "Vigil, \"candles\" & songs | Leaflet run | =HYPERLINK(\"http://evil.example\",\"sign\")",
		"/worked?period=90&sort=total&dir=asc":                "=HYPERLINK(\"http://evil.example\",\"sign\") | Leaflet run | Vigil, \"candles\" & songs",
		"/worked?period=90&sort=ch:discord":                   "Leaflet run | Vigil, \"candles\" & songs | =HYPERLINK(\"http://evil.example\",\"sign\")",
		"/worked?period=90&sort=title&dir=asc":                "=HYPERLINK(\"http://evil.example\",\"sign\") | Leaflet run | Vigil, \"candles\" & songs",
		"/worked?period=7":                                    "Vigil, \"candles\" & songs",
		"/worked?period=custom&from=2031-03-22&to=2031-03-22": "Leaflet run",
	} {
		p := br.get(query)
		if got := strings.Join(workedTitles(t, p.body), " | "); got != want {
			t.Errorf("%s lists %s, want %s", query, got, want)
		}
	}
	// A custom period is whole days in the campaign's zone (Europe/London),
	// the to day included.
	br.get("/worked?period=custom&from=2031-04-01&to=2031-04-30")
	london, _ := time.LoadLocation("Europe/London")
	if got := f.lastAsked(); !got[0].Equal(time.Date(2031, 4, 1, 0, 0, 0, 0, london)) || !got[1].Equal(time.Date(2031, 5, 1, 0, 0, 0, 0, london)) {
		t.Errorf("a custom period asked for %v", got)
	}
	// The header of the sorted column says so, and its link reverses it.
	p = br.get("/worked?period=90&sort=total")
	if !strings.Contains(p.body, `<th scope="col" aria-sort="descending"><a href="/worked?dir=asc&amp;period=90&amp;sort=total">Total`) {
		t.Errorf("the sorted header: %s", p.body)
	}
	for _, bad := range []string{"period=custom&from=31/03/2031&to=2031-04-01", "period=custom&from=2031-04-02&to=2031-04-01", "period=custom&from=2029-01-01&to=2031-04-01"} {
		p := br.get("/worked?" + bad)
		if p.status != http.StatusBadRequest || !strings.Contains(p.body, `class="problem" role="alert"`) {
			t.Errorf("%s: %d, no problem shown", bad, p.status)
		}
	}
}

// TestWhatWorkedCSV: the CSV has a line per post and channel with every
// counter, an empty cell (never 0) for what is not available, correct
// quoting, and no cell a spreadsheet would run as a formula.
func TestWhatWorkedCSV(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.workedFixture(t)
	br := b.browser(t).signedIn("author@example.org")
	if p := br.get("/worked?period=90"); !strings.Contains(p.body, `href="/worked.csv?period=90"`) {
		t.Fatal("What worked has no CSV link for its query")
	}
	p := br.get("/worked.csv?period=90&sort=title&dir=asc")
	if p.status != http.StatusOK || p.header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		p.header.Get("Content-Disposition") != `attachment; filename="crier-what-worked-2031-01-31-to-2031-05-01.csv"` {
		t.Fatalf("CSV: %d %v", p.status, p.header)
	}
	recs, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, p.body)
	}
	want := [][]string{
		{"post_id", "title", "source", "tags", "went_out", "state", "channel", "type", "replies", "reposts", "likes", "quotes", "reactions", "delivered", "clicks", "archive_views", "interactions", "last_read"},
		{"md:petition", `'=HYPERLINK("http://evil.example","sign")`, "'-feed", "petition", "2031-04-21T09:00:00Z", "Sent", "mastodon", "mastodon", "0", "", "1", "", "", "", "", "", "1", ""},
		{"md:petition", `'=HYPERLINK("http://evil.example","sign")`, "'-feed", "petition", "2031-04-21T09:00:00Z", "Sent", "discord", "discord", "", "", "", "", "", "", "", "", "", ""},
		{"md:leaflet", "Leaflet run", "markdown", "climate", "2031-03-22T09:00:00Z", "Sent", "discord", "discord", "", "", "", "", "7", "", "", "", "7", ""},
		{"md:vigil", `Vigil, "candles" & songs`, "markdown", "vigil;climate", "2031-04-29T09:00:00Z", "Sent", "mastodon", "mastodon", "2", "3", "12", "", "", "", "", "", "17", "2031-04-29T10:00:00Z"},
		{"md:vigil", `Vigil, "candles" & songs`, "markdown", "vigil;climate", "2031-04-29T09:00:00Z", "Sent", "newsletter", "email", "", "", "", "", "", "480", "41", "4", "45", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("the CSV has %d lines, want %d:\n%s", len(recs), len(want), p.body)
	}
	for i := range want {
		if strings.Join(recs[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("line %d:\n got %q\nwant %q", i, recs[i], want[i])
		}
	}
	if !strings.Contains(p.body, `"Vigil, ""candles"" & songs"`) {
		t.Errorf("the title with a comma and quotes is not quoted: %s", p.body)
	}
	if p := br.get("/worked.csv?period=90&channel=discord"); strings.Count(p.body, "\n") != 3 {
		t.Errorf("the Discord CSV has %d lines, want 3:\n%s", strings.Count(p.body, "\n"), p.body)
	}
	if p := br.get("/worked.csv?period=custom&from=nope&to=2031-04-01"); p.status != http.StatusBadRequest {
		t.Errorf("a CSV of a bad period: %d", p.status)
	}
}

// TestPostsListShowsReach: the posts list adds what each post that went
// out reached in total, from one read of the period its page covers.
func TestPostsListShowsReach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.workedFixture(t)
	br := b.browser(t).signedIn("author@example.org")
	br.newPost(map[string][]string{"title": {"A draft"}, "action": {"save"}})
	p := br.get("/posts")
	rows := htmlFind(htmlFind(parseHTML(t, p.body), "tbody")[0], "tr")
	got := map[string]string{}
	for _, tr := range rows {
		tds := htmlFind(tr, "td")
		got[htmlText(htmlFind(tds[0], "a")[0])] = spaced(tds[len(tds)-1])
	}
	for title, want := range map[string]string{"A draft": "Reach not sent", "Leaflet run": "Reach 7",
		`Vigil, "candles" & songs`: "Reach 62", `=HYPERLINK("http://evil.example","sign")`: "Reach 1"} {
		if got[title] != want {
			t.Errorf("%s: %q, want %q", title, got[title], want)
		}
	}
	if got := f.lastAsked(); !got[0].Equal(b.now.Now().Add(-40*24*time.Hour - time.Hour)) {
		t.Errorf("the posts list read reach from %v", got[0])
	}
}
