package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// statusNotice is the text of a page's role="status" notice, "" without one.
func statusNotice(body string) string {
	_, after, ok := strings.Cut(body, `<p class="notice" role="status">`)
	if !ok {
		return ""
	}
	text, _, _ := strings.Cut(after, "</p>")
	return text
}

// follow is the page a redirect leads to.
func (br *browser) follow(p page) page {
	br.t.Helper()
	if p.status != http.StatusSeeOther {
		br.t.Fatalf("expected a redirect, got %d: %s", p.status, p.body)
	}
	return br.get(p.loc)
}

func TestEachActionConfirmsWhatHappened(t *testing.T) {
	t.Parallel()
	b := setup(t)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	tok, etok := author.csrf(), editor.csrf()
	form := url.Values{"csrf": {tok}, "title": {"Vigil"}, "body": {"Join us."}, "action": {"save"}}
	p := author.post("/posts", form)
	if got := statusNotice(author.follow(p).body); got != "Saved." {
		t.Errorf("after Save: notice %q", got)
	}
	id := postIDOf(p.loc)
	form.Set("action", "submit")
	if got := statusNotice(author.follow(author.post("/posts/"+id, form)).body); !strings.HasPrefix(got, "Submitted for review.") {
		t.Errorf("after Submit: notice %q", got)
	}
	p = editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}})
	if got := statusNotice(editor.follow(p).body); !strings.HasPrefix(got, "Approved.") {
		t.Errorf("after Approve: notice %q", got)
	}
	p = editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-05T18:00"}})
	if got := statusNotice(editor.follow(p).body); got != "Scheduled for Mon 5 May 2031 18:00 BST." {
		t.Errorf("after Schedule: notice %q", got)
	}
	p = editor.post("/posts/"+id+"/cancel", url.Values{"csrf": {etok}, "confirm": {"yes"}})
	if got := statusNotice(editor.follow(p).body); !strings.HasPrefix(got, "Unscheduled.") {
		t.Errorf("after Unschedule: notice %q", got)
	}
	// Only the fixed sentences are shown: the query string is never echoed.
	if got := statusNotice(editor.get("/posts/" + id + "?done=%3Cb%3Ehacked").body); got != "" {
		t.Errorf("an unknown ?done shows %q", got)
	}
}

// liveState is the state badge in the post page's live part.
func liveState(t *testing.T, body string) string {
	t.Helper()
	_, after, ok := strings.Cut(body, `id="post-state"`)
	if !ok {
		t.Fatalf("no post-state in:\n%s", body)
	}
	_, after, _ = strings.Cut(after, ">")
	label, _, _ := strings.Cut(after, "<")
	return label
}

func TestLivePartFollowsFailureAndRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.publishedPost(t, "md:vigil", "mastodon", "discord")
	editor := b.browser(t).signedIn("editor@example.org")
	live := "/posts/" + url.PathEscape(p.ID) + "/live"
	page := editor.get("/posts/" + url.PathEscape(p.ID))
	if !strings.Contains(page.body, `data-follow="/posts/md:vigil/live"`) || liveState(t, page.body) != "Sending" {
		t.Fatalf("the page does not follow its live part:\n%s", page.body)
	}
	if got := editor.get(live); got.status != http.StatusOK || liveState(t, got.body) != "Sending" || !strings.Contains(got.body, `data-live="true"`) {
		t.Fatalf("live part while sending: %d %s", got.status, got.body)
	}
	// Mastodon fails for good while Discord is still under way: the badge
	// the script swaps in says so.
	if err := b.st.FinishAttempt(ctx, p.ID, "mastodon", store.DeliveryFailed, channels.Receipt{}, "permanent: 401 The access token is invalid", channels.KindPermanent.String(), false, time.Now()); err != nil {
		t.Fatal(err)
	}
	got := editor.get(live)
	if liveState(t, got.body) != "Failed" || !strings.Contains(deliveryItem(t, got.body, "mastodon"), `class="problem"`) {
		t.Fatalf("live part after Mastodon failed:\n%s", got.body)
	}
	// Retry queues it again (the bot keeps the last error until it is
	// sent): the old error no longer shows under "pending".
	r := editor.post("/posts/"+url.PathEscape(p.ID)+"/retry", url.Values{"csrf": {editor.csrf()}, "channel": {"mastodon"}})
	if _, err := b.st.DB().ExecContext(ctx, `UPDATE deliveries SET state = 'pending' WHERE post_id = $1 AND channel = 'mastodon'`, p.ID); err != nil {
		t.Fatal(err)
	}
	if got := statusNotice(editor.follow(r).body); !strings.HasPrefix(got, "Queued again.") {
		t.Errorf("after Retry: notice %q", got)
	}
	for _, path := range []string{live, "/posts/" + url.PathEscape(p.ID)} {
		got := editor.get(path)
		if item := deliveryItem(t, got.body, "mastodon"); strings.Contains(item, `class="problem"`) || strings.Contains(item, "401") {
			t.Errorf("%s: the old error shows under pending:\n%s", path, item)
		}
		if liveState(t, got.body) != "Sending" {
			t.Errorf("%s: state %q after Retry", path, liveState(t, got.body))
		}
	}
}

func TestNoTestNewsletterWithoutAMailServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	render := b.c.opts.Render
	b.c.opts.Render = func(ctx context.Context, p post.Post) []Rendering {
		return append(render(ctx, p), Rendering{Channel: "email", Type: "email", Card: channels.PreviewCard{Mail: &channels.PreviewMail{Subject: p.Title}}})
	}
	var sent atomic.Int32
	b.c.opts.SendTest = func(context.Context, post.Post, string) error { sent.Add(1); return nil }
	editor := b.browser(t).signedIn("editor@example.org")
	id := editor.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	if p := editor.get("/posts/" + id); !strings.Contains(p.body, "Send a test newsletter") {
		t.Fatal("with a mail server, the post page offers no test newsletter")
	}
	b.c.opts.Outbox = map[string]string{"email": "no mail server (SMTP_HOST is not set)"}
	if p := editor.get("/posts/" + id); strings.Contains(p.body, "Send a test newsletter") {
		t.Error("outbox-only email: the post page still offers a test newsletter")
	}
	p := editor.post("/posts/"+id+"/test", url.Values{"csrf": {editor.csrf()}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "SMTP_HOST") || sent.Load() != 0 {
		t.Errorf("outbox-only email, POST test: %d, sent %d:\n%s", p.status, sent.Load(), p.body)
	}
}

func TestSetupProblemsGoToTheOwnersSetupPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	render := b.c.opts.Render
	b.c.opts.Render = func(ctx context.Context, p post.Post) []Rendering {
		return append(render(ctx, p), Rendering{Channel: "email", Type: "email", Payload: channels.Payload{
			Warnings: []string{"http.public_url is not https: mail providers ignore one-click unsubscribe (RFC 8058) over plain http"}}})
	}
	b.c.opts.Outbox = map[string]string{"discord": "no Discord webhook connected"}
	author := b.browser(t).signedIn("author@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {strings.Repeat("Join us at the town hall. ", 30)}, "action": {"save"}})
	for _, who := range []string{"author@example.org", "editor@example.org"} {
		br := b.browser(t).signedIn(who)
		page := br.get("/posts/" + id).body
		for _, setupWords := range []string{"RFC 8058", "http.public_url", "config.yaml", "channels.", `href="/setup"`} {
			if strings.Contains(page, setupWords) {
				t.Errorf("%s sees %q on the post page", who, setupWords)
			}
		}
		if p := br.get("/setup"); p.status != http.StatusForbidden {
			t.Errorf("%s: /setup %d, want 403", who, p.status)
		}
	}
	owner := b.browser(t).signedIn("owner@example.org")
	if page := owner.get("/posts/" + id).body; !strings.Contains(page, `see <a href="/setup">Setup</a>`) || strings.Contains(page, "RFC 8058") {
		t.Error("the owner is not pointed from the preview to the Setup page")
	}
	p := owner.get("/setup")
	if p.status != http.StatusOK {
		t.Fatalf("owner /setup: %d", p.status)
	}
	for _, want := range []string{`href="/setup" aria-current="page"`, "config.yaml, http.public_url", "cannot fetch images",
		"config.yaml, channels.discord", "no Discord webhook connected", "channels.bluesky.thread"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the Setup page lacks %q", want)
		}
	}
}

func TestErrorsAreSentencesWithTheFix(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.supporters(t)
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	add := url.Values{"csrf": {tok}, "email": {"sam@example.org"}, "name": {"Sam"}, "consent": {"1"}}
	editor.post("/supporters", add)
	p := editor.post("/supporters", add)
	if !strings.Contains(p.body, "Not added: this address is already on the list. Search for it") || strings.Contains(p.body, "adding subscriber") {
		t.Errorf("adding a supporter twice:\n%s", p.body)
	}
	add.Set("email", "not an address")
	if p := editor.post("/supporters", add); strings.Contains(p.body, "adding subscriber") || !strings.Contains(p.body, "Correct it and add again.") {
		t.Errorf("adding a malformed address:\n%s", p.body)
	}

	ctx := context.Background()
	post := b.publishedPost(t, "md:vigil", "mastodon")
	if err := b.st.FinishAttempt(ctx, post.ID, "mastodon", store.DeliveryFailed, channels.Receipt{}, "permanent: status 1 of 1: uploading image: 401", channels.KindPermanent.String(), false, time.Now()); err != nil {
		t.Fatal(err)
	}
	item := deliveryItem(t, editor.get("/posts/"+url.PathEscape(post.ID)).body, "mastodon")
	for _, want := range []string{"did not accept the account&#39;s access token when Crier sent the post&#39;s image", "Make a new token (docs/mastodon.md says how)", "channels.mastodon", "press Retry"} {
		if !strings.Contains(item, want) {
			t.Errorf("the explanation lacks %q:\n%s", want, item)
		}
	}
}

// publishedPost is a Markdown post published to channels, each delivery
// pending.
func (b *bundle) publishedPost(t *testing.T, id string, chans ...string) post.Post {
	t.Helper()
	ctx := context.Background()
	p := post.Post{ID: id, Title: "Vigil", Source: post.Source{Kind: "markdown", Name: "posts"}}
	if err := b.st.SavePost(ctx, p, store.PostPublished, time.Now()); err != nil {
		t.Fatal(err)
	}
	tx, err := b.st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, ch := range chans {
		if _, err := store.AddDelivery(ctx, tx, p.ID, ch, false, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMountServesTheSetupPage: the daemon serves only the paths the console
// mounts, so a page missing from them is a 404 in production alone.
func TestMountServesTheSetupPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mux := http.NewServeMux()
	b.c.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		t.Fatal("the mounted console does not serve /setup")
	}
}
