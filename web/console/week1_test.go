package console

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

// Tests for issue 20's "loses or misleads" items: an organiser's first week.

// sendMultipart posts a write form with an optional image.
func (br *browser) sendMultipart(path string, fields map[string]string, fileName string, data []byte) page {
	br.t.Helper()
	fileField := ""
	if fileName != "" {
		fileField = "image"
	}
	body, ctype := multipartForm(br.t, fields, fileField, fileName, data)
	req, _ := http.NewRequest("POST", br.base+path, body)
	req.Header.Set("Content-Type", ctype)
	resp, err := br.client.Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	return readPage(br.t, resp)
}

var (
	formActionRe = regexp.MustCompile(`<form id="write" method="post" action="([^"]*)"`)
	imageNameRe  = regexp.MustCompile(`name="image_name" value="([^"]*)"`)
)

func TestRefusedNewPostIsKeptWhenCorrected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	fields := map[string]string{"csrf": tok, "title": "Vigil", "body": "Bring a candle, step-free.", "alt": "Candles on steps",
		"action": "schedule", "schedule_for": "2020-01-01T09:00"}
	// A time in the past: the form comes back with the image and every field.
	p := editor.sendMultipart("/posts", fields, "vigil.png", pngHeader())
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "in the past") {
		t.Fatalf("past time: %d", p.status)
	}
	if m := formActionRe.FindStringSubmatch(p.body); m == nil || m[1] != "/posts" {
		t.Fatalf("the refused new post's form goes to %v, not /posts", m)
	}
	m := imageNameRe.FindStringSubmatch(p.body)
	if m == nil || m[1] == "" || !strings.Contains(p.body, "Candles on steps") || !strings.Contains(p.body, "Bring a candle, step-free.") {
		t.Fatalf("the refused form lost the image or the text:\n%s", p.body)
	}
	if !strings.Contains(p.body, `class="preview preview-mastodon"`) {
		t.Error("the refused form shows no previews")
	}
	// Corrected and saved: the post is created with its text and image.
	fields["schedule_for"], fields["image_name"] = "2031-05-02T09:00", m[1]
	p = editor.sendMultipart(formActionRe.FindStringSubmatch(p.body)[1], fields, "", nil)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/posts/console:") {
		t.Fatalf("saving the corrected post: %d %s\n%s", p.status, p.loc, p.body)
	}
	sp, err := b.st.Post(context.Background(), postIDOf(p.loc))
	if err != nil || sp.Post.Body != "Bring a candle, step-free." || sp.Post.Image == nil || sp.Post.Image.Alt != "Candles on steps" {
		t.Fatalf("saved post %+v %v", sp.Post, err)
	}

	// A refused image keeps the alt text.
	fields = map[string]string{"csrf": tok, "title": "Pic", "alt": "A march", "action": "save"}
	p = editor.sendMultipart("/posts", fields, "evil.png", []byte("<html>not a picture"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, ">A march</textarea>") {
		t.Fatalf("refused image: %d, alt text kept: %v", p.status, strings.Contains(p.body, "A march"))
	}

	// A form opened for a post that was never saved still saves, as new.
	p = editor.post("/posts/console:neversaved", url.Values{"csrf": {tok}, "title": {"Stale form"}, "action": {"save"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/posts/console:") {
		t.Fatalf("a never-saved post's form: %d %s", p.status, p.body)
	}
}

func TestUnknownPagesExplain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	for _, path := range []string{"/posts/console:nothing", "/posts/console:nothing/edit", "/posts/a/b/c", "/supporters/x/y", "/users/zz"} {
		p := editor.get(path)
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "<h1>Not found</h1>") || !strings.Contains(p.body, `<nav aria-label="Console">`) {
			t.Errorf("%s: %d\n%s", path, p.status, p.body)
		}
	}
}

func TestSavedLocallyIsNeverShownAsSent(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testSavedLocallyIsNeverShownAsSent(t, driver) })
}

func testSavedLocallyIsNeverShownAsSent(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	b.c.opts.OutboxDir = t.TempDir()
	b.c.opts.Outbox = map[string]string{"mastodon": "no Mastodon account connected"}
	now := b.now.Now()
	mk := func(id string, outbox map[string]bool) {
		p := post.Post{ID: id, Title: id, PublishAt: now, Source: post.Source{Kind: "markdown", Name: "posts", Key: id}}
		if err := b.st.SavePost(ctx, p, store.PostPublished, now); err != nil {
			t.Fatal(err)
		}
		for ch, local := range outbox {
			if _, err := b.st.DB().ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, outbox, created_at, updated_at) VALUES ($1, $2, 'sent', $3, $4, $4)`, id, ch, local, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("md:local", map[string]bool{"mastodon": true})
	mk("md:mixed", map[string]bool{"mastodon": true, "discord": false})
	os.MkdirAll(filepath.Join(b.c.opts.OutboxDir, "mastodon"), 0o750)
	os.WriteFile(filepath.Join(b.c.opts.OutboxDir, "mastodon", outbox.FileBase("md:local")+".json"), []byte(`{"text":"the toot"}`), 0o640)
	for state, id := range map[string]string{"local": "md:local", "sent": "md:mixed"} {
		rows, _, err := b.c.listPosts(ctx, state, "", 1)
		if err != nil || len(rows) != 1 || rows[0].ID != id || string(rows[0].State) != state {
			t.Errorf("filter %s: %+v %v, want only %s", state, rows, err, id)
		}
	}
	editor := b.browser(t).signedIn("editor@example.org")
	list := editor.get("/posts")
	if !strings.Contains(list.body, `<span class="state state-local">Saved locally, not sent</span>`) ||
		!strings.Contains(list.body, `href="/posts/md:local/saved/mastodon">mastodon: saved locally, not sent (no Mastodon account connected)</a>`) ||
		strings.Contains(list.body, "mastodon: sent") {
		t.Errorf("posts list:\n%s", list.body)
	}
	pg := editor.get("/posts/md:local")
	if !strings.Contains(pg.body, "Saved locally, not sent (no Mastodon account connected)") || strings.Contains(pg.body, ">outbox<") {
		t.Errorf("post page:\n%s", pg.body)
	}
	if saved := editor.get("/posts/md:local/saved/mastodon"); saved.status != 200 || saved.body != `{"text":"the toot"}` {
		t.Errorf("saved copy: %d %s", saved.status, saved.body)
	}
	if saved := editor.get("/posts/md:mixed/saved/discord"); saved.status != http.StatusNotFound {
		t.Errorf("a delivery that left has no saved copy: %d", saved.status)
	}
	cal := editor.get("/calendar")
	if !strings.Contains(cal.body, `class="entry local"`) || !strings.Contains(cal.body, "(saved locally, not sent)") {
		t.Errorf("calendar:\n%s", cal.body)
	}
	// While one channel can send there is no banner; when none can, every page says so.
	if strings.Contains(list.body, "Nothing is being sent") {
		t.Error("banner shown while discord can send")
	}
	b.c.opts.Outbox["discord"] = "no Discord webhook connected"
	for _, path := range []string{"/posts", "/calendar", "/posts/new", "/feeds"} {
		if p := editor.get(path); !strings.Contains(p.body, "Nothing is being sent") {
			t.Errorf("%s has no banner", path)
		}
	}
}

func TestIrreversibleActionsAskFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	subs := b.supporters(t)
	var mailed []string
	b.c.opts.Reconfirm = func(ctx context.Context, email, by string) error {
		mailed = append(mailed, email+" by "+by)
		return nil
	}
	owner := b.browser(t).signedIn("owner@example.org")
	tok := owner.csrf()
	owner.post("/supporters", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "consent": {"1"}})

	// Remove and erase: a question naming the consequence; nothing erased yet.
	p := owner.post("/supporters/remove", url.Values{"csrf": {tok}, "email": {"sam@example.org"}})
	if p.status != 200 || !strings.Contains(p.body, "cannot be undone") || !strings.Contains(p.body, `name="confirm" value="yes"`) {
		t.Fatalf("remove without confirming: %d\n%s", p.status, p.body)
	}
	if _, err := subs.GetByEmail(ctx, "sam@example.org"); err != nil {
		t.Fatalf("erased before confirming: %v", err)
	}
	owner.post("/supporters/remove", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "confirm": {"yes"}})
	if _, err := subs.GetByEmail(ctx, "sam@example.org"); err == nil {
		t.Fatal("not erased after confirming")
	}
	// Erased by mistake: not re-added directly; an owner is offered a confirmation mail, after a question.
	p = owner.post("/supporters", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "consent": {"1"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `action="/supporters/reconfirm"`) {
		t.Fatalf("re-adding an erased address: %d\n%s", p.status, p.body)
	}
	if p = owner.post("/supporters/reconfirm", url.Values{"csrf": {tok}, "email": {"sam@example.org"}}); !strings.Contains(p.body, "Yes, send the confirmation mail") || len(mailed) != 0 {
		t.Fatalf("reconfirm without confirming: %d %v", p.status, mailed)
	}
	if p = owner.post("/supporters/reconfirm", url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "confirm": {"yes"}}); p.status != 200 ||
		len(mailed) != 1 || mailed[0] != "sam@example.org by owner@example.org" {
		t.Fatalf("reconfirm: %d %v", p.status, mailed)
	}
	editor := b.browser(t).signedIn("editor@example.org")
	if p := editor.post("/supporters/reconfirm", url.Values{"csrf": {editor.csrf()}, "email": {"sam@example.org"}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Fatalf("an editor sent a confirmation mail: %d", p.status)
	}

	// Removing a user asks first.
	p = owner.post("/users/remove", url.Values{"csrf": {tok}, "email": {"author@example.org"}})
	if p.status != 200 || !strings.Contains(p.body, "signed out everywhere") {
		t.Fatalf("user removal without confirming: %d", p.status)
	}
	if _, err := b.users.Authenticate(ctx, "author@example.org", "correct horse battery"); err != nil {
		t.Fatalf("user removed before confirming: %v", err)
	}
	if p = owner.post("/users/remove", url.Values{"csrf": {tok}, "email": {"author@example.org"}, "confirm": {"yes"}}); !strings.Contains(p.body, "Removed author@example.org") {
		t.Fatalf("user removal: %d", p.status)
	}
}

func TestUnscheduleAsksAndKeepsTheTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	id := editor.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {tok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-05T18:00"}})
	page := editor.get("/posts/" + id)
	if !strings.Contains(page.body, ">Unschedule…</button>") || strings.Contains(page.body, ">Cancel</button>") {
		t.Fatalf("post page's unschedule button:\n%s", page.body)
	}
	p := editor.post("/posts/"+id+"/cancel", url.Values{"csrf": {tok}})
	if p.status != 200 || !strings.Contains(p.body, "It will not go out on Mon 5 May 2031 18:00 BST") {
		t.Fatalf("unschedule without confirming: %d\n%s", p.status, p.body)
	}
	if sp, _ := b.st.Post(ctx, id); sp.State != store.PostScheduled {
		t.Fatalf("unscheduled before confirming: %s", sp.State)
	}
	editor.post("/posts/"+id+"/cancel", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	page = editor.get("/posts/" + id)
	m := regexp.MustCompile(`name="schedule_for" value="([^"]+)"><input type="hidden" name="revision" value="[^"]+">\s*<button type="submit" class="primary">Schedule again for Mon 5 May 2031 18:00 BST</button>`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no one-click reschedule:\n%s", page.body)
	}
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {tok}, "revision": {editor.revision(id)}, "schedule_for": {m[1]}}); p.status != http.StatusSeeOther {
		t.Fatalf("reschedule: %d %s", p.status, p.body)
	}
	if sp, _ := b.st.Post(ctx, id); sp.State != store.PostScheduled || !sp.Post.PublishAt.Equal(time.Date(2031, 5, 5, 17, 0, 0, 0, time.UTC)) {
		t.Fatalf("rescheduled: %s %s", sp.State, sp.Post.PublishAt)
	}
}

func TestSaveOnAScheduledPostSaysItStillGoesOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	id := editor.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	if p := editor.get("/posts/" + id + "/edit"); !strings.Contains(p.body, ">Save draft</button>") {
		t.Fatalf("a draft's form has no Save draft")
	}
	editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {tok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-05T18:00"}})
	p := editor.get("/posts/" + id + "/edit")
	if !strings.Contains(p.body, ">Save (still going out Mon 5 May 18:00)</button>") || strings.Contains(p.body, "Save draft") {
		t.Fatalf("a scheduled post's form:\n%s", p.body)
	}
	editor.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"Vigil, step-free"}, "action": {"save"}})
	if sp, _ := b.st.Post(ctx, id); sp.State != store.PostScheduled || sp.Post.Title != "Vigil, step-free" {
		t.Fatalf("after Save: %s %q", sp.State, sp.Post.Title)
	}
	author := b.browser(t).signedIn("author@example.org")
	mine := author.newPost(url.Values{"title": {"March"}, "action": {"submit"}})
	editor.post("/posts/"+mine+"/approve", url.Values{"csrf": {tok}, "revision": {editor.revision(mine)}})
	editor.post("/posts/"+mine+"/schedule", url.Values{"csrf": {tok}, "revision": {editor.revision(mine)}, "schedule_for": {"2031-05-05T18:00"}})
	if p := author.get("/posts/" + mine + "/edit"); p.status != 200 || !strings.Contains(p.body, "stops it going out Mon 5 May 18:00") {
		t.Fatalf("an author's Save on a scheduled post does not say it stops it:\n%s", p.body)
	}
}

var discordPreviewRe = regexp.MustCompile(`(?s)<div class="discord">.*?</div>\s*</article>`)

func TestDiscordPreviewRendersAsDiscordDoes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	p := editor.sendMultipart("/posts", map[string]string{"csrf": editor.csrf(), "title": "Vigil", "action": "save", "alt": "Candles",
		"body": "Bring a **candle**, see [the route](https://camaca.example/route). 2 * 3 = 6_", "content_warning": "grief"}, "vigil.png", pngHeader())
	if p.status != http.StatusSeeOther {
		t.Fatalf("saving: %d %s", p.status, p.body)
	}
	page := editor.get(p.loc)
	d := discordPreviewRe.FindString(page.body)
	for _, want := range []string{`<strong>candle</strong>`, `<a href="https://camaca.example/route" rel="noopener noreferrer">the route</a>`,
		`<label class="dc-spoiler"><input type="checkbox" aria-label="Spoiler: reveal">`, `2 * 3 = 6_`,
		`<label class="dc-spoiler dc-spoiler-image"><input type="checkbox" aria-label="Spoiler image: reveal"><span><img src="`, `alt="Candles"`} {
		if !strings.Contains(d, want) {
			t.Errorf("the Discord preview lacks %s:\n%s", want, d)
		}
	}
	for _, raw := range []string{"||", "**", "](", `\*`} {
		if strings.Contains(d, raw) {
			t.Errorf("the Discord preview shows raw %q:\n%s", raw, d)
		}
	}
}

func TestDiscordHTMLEscapesEverything(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`<script>alert(1)</script>`:         `&lt;script&gt;alert(1)&lt;/script&gt;`,
		`[x](javascript:alert(1))`:          `[x](javascript:alert(1))`,
		`||**<b>**||`:                       `<label class="dc-spoiler"><input type="checkbox" aria-label="Spoiler: reveal"><span><strong>&lt;b&gt;</strong></span></label>`,
		`[a "b"](https://x.example/?q="y")`: `<a href="https://x.example/?q=&#34;y&#34;" rel="noopener noreferrer">a &#34;b&#34;</a>`,
		"`**not bold**`":                    `<code>**not bold**</code>`,
		`\*\*plain\*\*`:                     `**plain**`,
	} {
		if got := string(spansHTML(discord.PreviewSpans(in))); got != want {
			t.Errorf("Discord Markdown %q shows as %q, want %q", in, got, want)
		}
	}
}

var imgSrcRe = regexp.MustCompile(`<img src="([^"]*)"`)

func TestImagesAreStoredByNameAndShownSameOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	p := editor.sendMultipart("/posts", map[string]string{"csrf": editor.csrf(), "title": "Vigil", "action": "save", "alt": "Candles"}, "vigil.png", pngHeader())
	if p.status != http.StatusSeeOther {
		t.Fatalf("saving: %d", p.status)
	}
	id := postIDOf(p.loc)
	sp, _ := b.st.Post(context.Background(), id)
	if sp.Post.Image == nil || !strings.HasPrefix(sp.Post.Image.URL, "/media/") || sp.Post.Image.File != "" {
		t.Fatalf("stored image %+v, want it by name", sp.Post.Image)
	}
	// public_url changes (or the console is opened at another address):
	// the previews still show the picture, from the console's own origin.
	b.c.opts.PublicURL = "https://crier.camaca.example"
	page := editor.get("/posts/" + id)
	srcs := imgSrcRe.FindAllStringSubmatch(page.body, -1)
	if len(srcs) < 2 {
		t.Fatalf("the previews show %d pictures:\n%s", len(srcs), page.body)
	}
	for _, m := range srcs {
		if m[1] != sp.Post.Image.URL {
			t.Errorf("preview picture at %s, want %s", m[1], sp.Post.Image.URL)
		}
	}
	if edit := editor.get("/posts/" + id + "/edit"); !strings.Contains(edit.body, `<a href="`+sp.Post.Image.URL+`">`) {
		t.Error("the write form's current image is not linked by its own address")
	}
}

// TestSpansWithTextOnly: a link or heading span given as plain Text (no
// inner spans, as channels.Span allows) shows its text, escaped.
func TestSpansWithTextOnly(t *testing.T) {
	t.Parallel()
	got := string(spansHTML([]channels.Span{
		{Style: channels.Heading, Level: 2, Text: "Vigil <Friday>"},
		{Style: channels.Link, URL: "https://camaca.example/vigil", Text: "the route"},
		{Style: channels.Link, URL: "javascript:alert(1)", Text: "not a link"},
	}))
	want := `<span class="dc-h dc-h2">Vigil &lt;Friday&gt;</span><a href="https://camaca.example/vigil" rel="noopener noreferrer">the route</a>not a link`
	if got != want {
		t.Errorf("spans with text only show as %q, want %q", got, want)
	}
}
