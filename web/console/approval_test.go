package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testpeers/postgres"
)

// postMultipart sends the write form with an image, as a browser does.
func (br *browser) postMultipart(path string, fields map[string]string, image []byte) page {
	br.t.Helper()
	body, ctype := multipartForm(br.t, fields, "image", "pic.png", image)
	req, _ := http.NewRequest("POST", br.base+path, body)
	req.Header.Set("Content-Type", ctype)
	resp, err := br.client.Do(req)
	if err != nil {
		br.t.Fatal(err)
	}
	return readPage(br.t, resp)
}

func TestApprovalIsOfTheRevisionTheEditorRead(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testApprovalIsOfTheRevisionTheEditorRead(t, driver) })
}

func testApprovalIsOfTheRevisionTheEditorRead(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	owner := b.browser(t).signedIn("owner@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"Join us at 6pm."}, "link": {"https://camaca.example/v"}, "action": {"submit"}})
	etok := editor.csrf()
	read := editor.revision(id)

	// While the editor reads, the author changes the text; the post stays
	// in review.
	if p := author.post("/posts/"+id, url.Values{"csrf": {author.csrf()}, "title": {"Vigil"}, "body": {"Bring nothing; do not come."},
		"link": {"https://camaca.example/v"}, "action": {"submit"}}); p.status != http.StatusSeeOther {
		t.Fatalf("author's edit: %d", p.status)
	}
	p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {read}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, msgChanged) {
		t.Fatalf("approving what changed since it was read: %d %s", p.status, p.body)
	}
	if m, _, _ := b.c.meta(ctx, id); m.Workflow != WorkflowReview {
		t.Fatalf("after the refusal the post is %s", m.Workflow)
	}
	now := editor.revision(id)
	if now == read {
		t.Fatal("the author's edit did not change the revision")
	}
	if h := editor.get("/posts/" + id).body; !strings.Contains(h, "not approved: changed since opened (read revision "+read+", stored revision "+now+")") {
		t.Fatalf("the history does not record both revisions:\n%s", h)
	}
	// A form without a revision approves nothing either.
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}}); p.status != http.StatusConflict {
		t.Fatalf("approving without a revision: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {now}}); p.status != http.StatusSeeOther {
		t.Fatalf("approving the revision read: %d %s", p.status, p.body)
	}

	// Once approved, another editor (the owner) changes the text:
	// Schedule and Publish from the page read before are refused.
	read = editor.revision(id)
	if p := owner.post("/posts/"+id, url.Values{"csrf": {owner.csrf()}, "title": {"Vigil"}, "body": {"Join us at 7pm."},
		"link": {"https://camaca.example/v"}, "action": {"save"}}); p.status != http.StatusSeeOther {
		t.Fatalf("owner's edit: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {read}, "schedule_for": {"2031-05-02T18:00"}}); p.status != http.StatusConflict || !strings.Contains(p.body, msgChanged) {
		t.Fatalf("scheduling what changed since it was read: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {read}}); p.status != http.StatusConflict || !strings.Contains(p.body, msgChanged) {
		t.Fatalf("publishing what changed since it was read: %d", p.status)
	}
	// The write form carries the revision it was opened on.
	p = editor.post("/posts/"+id, url.Values{"csrf": {etok}, "revision": {read}, "title": {"Vigil"}, "body": {"Join us at 6pm."}, "action": {"publish"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, msgChanged) || !strings.Contains(p.body, `name="revision" value="`+editor.revision(id)+`"`) {
		t.Fatalf("publishing from a form opened before the change: %d %s", p.status, p.body)
	}
	if sp, _ := b.st.Post(ctx, id); sp.State != store.PostDraft || len(b.pub.published) != 0 {
		t.Fatalf("after the refusals: %s, published %v", sp.State, b.pub.published)
	}
	h := editor.get("/posts/" + id).body
	for _, verb := range []string{"not scheduled", "not published"} {
		if !strings.Contains(h, verb+": changed since opened (read revision "+read) {
			t.Errorf("the history lacks %q", verb)
		}
	}
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("publishing the revision read: %d %s", p.status, p.body)
	}
}

// The image and its alt text are part of what the editor approves.
func TestChangingTheImageOrAltIsANewRevision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	tok := author.csrf()
	form := map[string]string{"csrf": tok, "title": "March", "body": "Saturday.", "alt": "Marchers", "action": "submit"}
	p := author.postMultipart("/posts", form, pngHeader())
	if p.status != http.StatusSeeOther {
		t.Fatalf("creating the post: %d %s", p.status, p.body)
	}
	id := postIDOf(p.loc)
	read := editor.revision(id)
	other := append(pngHeader(), 0) // another picture, the same text
	if p := author.postMultipart("/posts/"+id, form, other); p.status != http.StatusSeeOther {
		t.Fatalf("changing the image: %d", p.status)
	}
	afterImage := editor.revision(id)
	if afterImage == read {
		t.Fatal("a new image did not change the revision")
	}
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {editor.csrf()}, "revision": {read}}); p.status != http.StatusConflict {
		t.Fatalf("approving after the image changed: %d", p.status)
	}
	if p := author.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"March"}, "body": {"Saturday."}, "alt": {"Police"}, "action": {"submit"}}); p.status != http.StatusSeeOther {
		t.Fatalf("changing the alt text: %d", p.status)
	}
	if editor.revision(id) == afterImage {
		t.Fatal("new alt text did not change the revision")
	}
}

// The check and the write are one transaction: a change that lands after
// the page's revision was checked still stops the approval and the
// schedule.
func TestApprovalRecheckedWhereItIsWritten(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"6pm."}, "action": {"submit"}})
	sp, _ := b.st.Post(ctx, id)
	read := revision(sp.Post)
	m, _, _ := b.c.meta(ctx, id)
	changed := sp.Post
	changed.Body = "Changed between the check and the write."
	if err := b.c.saveConsolePost(ctx, changed, store.PostDraft, m, "author@example.org", "edited", "", ""); err != nil {
		t.Fatal(err)
	}
	var ce *changedError
	if err := b.c.setWorkflow(ctx, id, WorkflowApproved, "editor@example.org", "approved", "", read); !errors.As(err, &ce) || ce.Read != read {
		t.Fatalf("approving a stale revision: %v", err)
	}
	if err := b.c.saveConsolePost(ctx, sp.Post, store.PostScheduled, m, "editor@example.org", "scheduled", "", read); !errors.As(err, &ce) {
		t.Fatalf("scheduling a stale revision: %v", err)
	}
	after, _ := b.st.Post(ctx, id)
	if m, _, _ := b.c.meta(ctx, id); m.Workflow != WorkflowReview || after.Post.Body != changed.Body || after.State != store.PostDraft {
		t.Fatalf("after the refusals: %s %s %q", m.Workflow, after.State, after.Post.Body)
	}
	// Published by the bot after an author opened the form: their save
	// does not take it back to a draft with other text.
	if err := b.st.SavePost(ctx, after.Post, store.PostPublished, b.now.Now()); err != nil {
		t.Fatal(err)
	}
	late := after.Post
	late.Body = "Saved after it went out."
	if err := b.c.saveConsolePost(ctx, late, store.PostDraft, m, "author@example.org", "edited", "", ""); !errors.Is(err, errPublished) {
		t.Fatalf("saving over a published post: %v", err)
	}
	if sp, _ := b.st.Post(ctx, id); sp.State != store.PostPublished || sp.Post.Body != after.Post.Body {
		t.Fatalf("the published post became %s %q", sp.State, sp.Post.Body)
	}
}

// An author's edit after approval takes the approval away: the post goes
// back to draft (docs/console.md) and can't go out until approved again.
func TestAuthorEditAfterApprovalNeedsApprovalAgain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"6pm."}, "action": {"submit"}})
	etok := editor.csrf()
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.status)
	}
	if p := author.post("/posts/"+id, url.Values{"csrf": {author.csrf()}, "title": {"Vigil"}, "body": {"Midnight."}, "action": {"save"}}); p.status != http.StatusSeeOther {
		t.Fatalf("author's edit: %d", p.status)
	}
	if m, _, _ := b.c.meta(ctx, id); m.Workflow != WorkflowDraft {
		t.Fatalf("after the author's edit the post is %s", m.Workflow)
	}
	rev := editor.revision(id) // the editor has read the new text, yet it is not approved
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {rev}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "approve") {
		t.Fatalf("publishing without a new approval: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {rev}, "schedule_for": {"2031-05-02T18:00"}}); p.status != http.StatusForbidden {
		t.Fatalf("scheduling without a new approval: %d", p.status)
	}
	if len(b.pub.published) != 0 {
		t.Fatalf("published %v", b.pub.published)
	}
}
