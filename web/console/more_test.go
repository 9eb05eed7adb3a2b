package console

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/post"
)

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t).signedIn("author@example.org")
	b.now.Add(SessionTTL - time.Minute)
	if p := br.get("/posts"); p.status != 200 {
		t.Fatalf("a session used within its lifetime: %d", p.status)
	}
	// Use renews it: another lifetime from the last use.
	b.now.Add(SessionTTL - time.Minute)
	if p := br.get("/posts"); p.status != 200 {
		t.Fatalf("a renewed session: %d", p.status)
	}
	b.now.Add(SessionTTL + time.Second)
	if p := br.get("/posts"); p.status != http.StatusSeeOther {
		t.Fatalf("an expired session: %d", p.status)
	}
}

func TestSignOutEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	phone := b.browser(t).signedIn("editor@example.org")
	laptop := b.browser(t).signedIn("editor@example.org")
	if p := laptop.post("/logout-everywhere", url.Values{"csrf": {laptop.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out everywhere: %d", p.status)
	}
	if p := phone.get("/posts"); p.status != http.StatusSeeOther {
		t.Fatalf("the other browser is still signed in: %d", p.status)
	}
}

func TestMarkdownDownloadReadsBackAsTheSamePost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	id := editor.newPost(url.Values{"title": {"Vigil: bring a candle"}, "body": {"Join us at **6pm**.\n\nAll welcome."},
		"summary": {"A vigil on Friday"}, "link": {"https://camaca.example/vigil"}, "tags": {"vigil, human rights"},
		"content_warning": {"child trafficking"}, "language": {"en"}, "text_mastodon": {"Vigil on Friday at 6pm"}, "skip_discord": {"1"},
		"action": {"save"}})
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-02T18:00"}}); p.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d %s", p.status, p.body)
	}
	p := editor.get("/posts/" + id + "/markdown")
	if p.status != 200 || !strings.Contains(p.header.Get("Content-Disposition"), "vigil-bring-a-candle.md") {
		t.Fatalf("download: %d %q", p.status, p.header.Get("Content-Disposition"))
	}
	got, err := markdown.ParseIn("vigil.md", []byte(p.body), b.c.opts.Location)
	if err != nil {
		t.Fatalf("the download does not parse as a post file: %v\n%s", err, p.body)
	}
	sp, _ := b.st.Post(context.Background(), id)
	want := sp.Post
	if got.Title != want.Title || got.Body != want.Body || got.Summary != want.Summary || got.Link != want.Link ||
		strings.Join(got.Tags, ",") != strings.Join(want.Tags, ",") || got.ContentWarning != want.ContentWarning ||
		!got.PublishAt.Equal(want.PublishAt) || got.TextFor("mastodon") != "Vigil on Friday at 6pm" || !got.Skips("discord") {
		t.Fatalf("read back:\n%+v\nstored:\n%+v\nfile:\n%s", got, want, p.body)
	}
}

func TestSupportersPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	subs := b.supporters(t)
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	if p := editor.post("/supporters", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "name": {"Sam"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "agreed") {
		t.Fatalf("adding without consent: %d", p.status)
	}
	if p := editor.post("/supporters", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "name": {"Sam"}, "consent": {"1"}}); p.status != 200 || !strings.Contains(p.body, "Added sam@example.org") {
		t.Fatalf("adding: %d %s", p.status, p.body)
	}
	page := editor.get("/supporters?q=sam")
	if !strings.Contains(page.body, "<span class=\"n\">1</span> Confirmed") || !strings.Contains(page.body, "sam@example.org") {
		t.Fatalf("supporters page after adding:\n%s", page.body)
	}
	sub, _ := subs.GetByEmail(ctx, "sam@example.org")
	hist := editor.get("/supporters/" + itoa(int(sub.ID)))
	if hist.status != 200 || !strings.Contains(hist.body, "console: added by editor@example.org") {
		t.Fatalf("consent history: %d\n%s", hist.status, hist.body)
	}
	exp := editor.get("/supporters/export")
	if exp.status != 200 || !strings.Contains(exp.body, "sam@example.org") || !strings.HasPrefix(exp.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %q", exp.status, exp.body)
	}
	if p := editor.post("/supporters/remove", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "confirm": {"yes"}}); p.status != 200 || !strings.Contains(p.body, "erased") {
		t.Fatalf("remove: %d", p.status)
	}
	if _, err := subs.GetByEmail(ctx, "sam@example.org"); err == nil {
		t.Fatal("the supporter is still there")
	}
}

func TestFeedsPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.c.opts.Feeds = []Feed{{Name: "campaign-site", URL: "https://camaca.example/feed.xml", Schedule: "@every 5m",
		Next: func(last time.Time) time.Time { return last.Add(5 * time.Minute) }}, {Name: "partners", URL: "https://partners.example/feed", Schedule: "@hourly"}}
	polled := time.Date(2031, 5, 1, 8, 55, 0, 0, time.UTC)
	if err := b.st.SaveFeed(ctx, store.Feed{Name: "campaign-site", URL: "https://camaca.example/feed.xml", LastPolled: sql.NullTime{Time: polled, Valid: true},
		LastError: `fetching: 503 <script>alert(1)</script>`}); err != nil {
		t.Fatal(err)
	}
	p := b.browser(t).signedIn("author@example.org").get("/feeds")
	for _, want := range []string{"campaign-site", "Thu 1 May 2031 09:55 BST", "Thu 1 May 2031 10:00 BST", "503 &lt;script&gt;", "partners", "Not polled yet"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("feeds page lacks %q", want)
		}
	}
}

func TestTestNewsletterGoesToTheSignedInUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var sentTo []string
	b.c.opts.SendTest = func(ctx context.Context, p post.Post, to string) error {
		sentTo = append(sentTo, to+" "+p.Title)
		return nil
	}
	editor := b.browser(t).signedIn("editor@example.org")
	id := editor.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	p := editor.post("/posts/"+id+"/test", url.Values{"csrf": {editor.csrf()}})
	if p.status != 200 || !strings.Contains(p.body, "A test copy of the newsletter was sent to editor@example.org") {
		t.Fatalf("test newsletter: %d", p.status)
	}
	if len(sentTo) != 1 || sentTo[0] != "editor@example.org Vigil" {
		t.Fatalf("sent %v", sentTo)
	}
	author := b.browser(t).signedIn("author@example.org")
	if p := author.post("/posts/"+id+"/test", url.Values{"csrf": {author.csrf()}}); p.status != http.StatusForbidden {
		t.Fatalf("author sending a test: %d", p.status)
	}
}

func TestBlueskyPreviewCountsGraphemes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.c.opts.Render = channelRender(t, channels.Campaign{Name: "CAMACA", Language: "en"}, "  bluesky: {enabled: true}\n", bluesky.Provider{})
	editor := b.browser(t).signedIn("editor@example.org")
	p := editor.post("/preview", url.Values{"csrf": {editor.csrf()}, "title": {"Vigil"}, "body": {"Join us, 👩‍👩‍👧 families welcome."}, "link": {"https://camaca.example/v"}})
	if p.status != 200 || !strings.Contains(p.body, "preview-bluesky") || !regexp.MustCompile(`\d+ / 300`).MatchString(p.body) || !strings.Contains(p.body, "families welcome") {
		t.Fatalf("bluesky preview: %d\n%s", p.status, p.body)
	}
}

func TestAuthorEditingAScheduledPostTakesItBackToDraft(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "action": {"submit"}})
	etok := editor.csrf()
	editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}})
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-02T18:00"}}); p.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d", p.status)
	}
	if p := author.post("/posts/"+id, url.Values{"csrf": {author.csrf()}, "title": {"Vigil (changed)"}, "action": {"save"}}); p.status != http.StatusSeeOther {
		t.Fatalf("author edit: %d %s", p.status, p.body)
	}
	sp, _ := b.st.Post(ctx, id)
	m, _, _ := b.c.meta(ctx, id)
	if sp.State != store.PostDraft || !sp.Post.Draft || m.Workflow != WorkflowDraft {
		t.Fatalf("after the author's edit: %s draft=%v workflow=%s", sp.State, sp.Post.Draft, m.Workflow)
	}
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusForbidden {
		t.Fatalf("publishing the changed post without a new approval: %d", p.status)
	}
}

func TestPublishingADuplicateSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	id := editor.newPost(url.Values{"title": {"Again"}, "link": {"https://camaca.example/already-out"}, "action": {"save"}})
	p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}})
	if p.status != 200 || !strings.Contains(p.body, "same link as feed:site:1") || !strings.Contains(p.body, "not sent: duplicate") {
		t.Fatalf("publishing a duplicate: %d\n%s", p.status, p.body)
	}
}

// TestPreviewFormatsUnderTheRequestContext: the console formats a preview
// under its request's context (done once the reader has gone or the answer
// is written), so that formatting stops with the request (issue 18).
func TestPreviewFormatsUnderTheRequestContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := make(chan context.Context, 1)
	b.c.opts.Render = func(ctx context.Context, p post.Post) []Rendering {
		got <- ctx
		return nil
	}
	editor := b.browser(t).signedIn("editor@example.org")
	if p := editor.post("/preview", url.Values{"csrf": {editor.csrf()}, "title": {"Vigil"}, "body": {"text"}}); p.status != 200 {
		t.Fatalf("preview: %d", p.status)
	}
	ctx := <-got
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the formatters' context outlives the request: formatting would go on after the reader left")
	}
}
