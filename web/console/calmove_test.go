package console

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
)

// scheduledPost is an editor's post scheduled for 2031-05-05 18:30 London
// time (BST), and its id.
func scheduledPost(t *testing.T, editor *browser) string {
	t.Helper()
	id := editor.newPost(url.Values{"title": {"Vigil"}, "body": {"Bring a candle."}, "action": {"save"}})
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-05T18:30"}}); p.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d %s", p.status, p.body)
	}
	return id
}

func TestMoveKeepsTimeOfDay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	id := scheduledPost(t, editor)
	cal := editor.get("/calendar")
	if !strings.Contains(cal.body, `action="/posts/`+id+`/move"`) || !strings.Contains(cal.body, `data-move="/posts/`+id+`/move"`) {
		t.Fatalf("the calendar offers no Move to… for the scheduled post:\n%s", cal.body)
	}
	p := editor.post("/posts/"+id+"/move", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "date": {"2031-05-09"}})
	if p.status != http.StatusSeeOther || p.loc != "/calendar?date=2031-05-09&moved="+url.QueryEscape(id) {
		t.Fatalf("move: %d %q %s", p.status, p.loc, p.body)
	}
	// The calendar confirms the move like the other actions, in a status
	// region screen readers announce.
	if cal := editor.get(p.loc); !strings.Contains(cal.body, `<p class="notice" role="status" id="moved">Moved “Vigil” to Fri 9 May 2031 18:30 BST.</p>`) {
		t.Errorf("no confirmation of the move on the calendar:\n%s", cal.body)
	}
	if cal := editor.get("/calendar?date=2031-05-09&moved=nope"); strings.Contains(cal.body, "Moved") {
		t.Error("a confirmation for a post that does not exist")
	}
	sp, err := b.st.Post(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2031, 5, 9, 17, 30, 0, 0, time.UTC); sp.State != store.PostScheduled || !sp.Post.PublishAt.Equal(want) {
		t.Fatalf("moved post: %s at %s, want scheduled at %s", sp.State, sp.Post.PublishAt, want)
	}
	if page := editor.get("/posts/" + id); !strings.Contains(page.body, "rescheduled (for Fri 9 May 2031 18:30 BST)") {
		t.Error("the history does not record the move")
	}
	// A day in the past or not a day is refused with the reason.
	for day, why := range map[string]string{"2031-04-30": "in the past", "tomorrow": "is not a day"} {
		if p := editor.post("/posts/"+id+"/move", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "date": {day}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, why) {
			t.Errorf("move to %q: %d, want 422 with %q", day, p.status, why)
		}
	}
}

func TestMoveNeedsEditorCSRFAndRevision(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	author := b.browser(t).signedIn("author@example.org")
	id := scheduledPost(t, editor)
	rev := editor.revision(id)
	if cal := author.get("/calendar"); strings.Contains(cal.body, "/move") {
		t.Error("the calendar offers an author to move a post")
	}
	if p := author.post("/posts/"+id+"/move", url.Values{"csrf": {author.csrf()}, "revision": {rev}, "date": {"2031-05-09"}}); p.status != http.StatusForbidden {
		t.Errorf("author's move: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/move", url.Values{"revision": {rev}, "date": {"2031-05-09"}}); p.status != http.StatusForbidden {
		t.Errorf("move without CSRF token: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/move", url.Values{"csrf": {editor.csrf()}, "revision": {"stale"}, "date": {"2031-05-09"}}); p.status != http.StatusConflict || !strings.Contains(p.body, msgChanged) {
		t.Errorf("move of an old revision: %d", p.status)
	}
	sp, _ := b.st.Post(context.Background(), id)
	if !sp.Post.PublishAt.Equal(time.Date(2031, 5, 5, 17, 30, 0, 0, time.UTC)) {
		t.Errorf("a refused move moved the post to %s", sp.Post.PublishAt)
	}
	// Only a scheduled post moves.
	draft := editor.newPost(url.Values{"title": {"Draft"}, "action": {"save"}})
	if p := editor.post("/posts/"+draft+"/move", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(draft)}, "date": {"2031-05-09"}}); p.status != http.StatusForbidden {
		t.Errorf("move of a draft: %d", p.status)
	}
}

func TestCalendarDayOpensWriteForm(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	cal := editor.get("/calendar?date=2031-05-01")
	if !strings.Contains(cal.body, `href="/posts/new?date=2031-05-08"`) {
		t.Fatal("the calendar has no link to write a post for 8 May")
	}
	if strings.Contains(cal.body, `href="/posts/new?date=2031-04-30"`) {
		t.Error("the calendar offers to write a post for a day in the past")
	}
	write := editor.get("/posts/new?date=2031-05-08")
	if !strings.Contains(write.body, `placeholder="dd/mm/yyyy hh:mm" value="08/05/2031 09:00"`) {
		t.Fatalf("the write form does not have the day:\n%s", write.body)
	}
	if w := editor.get("/posts/new?date=nonsense"); w.status != http.StatusOK || strings.Contains(w.body, `value="nonsense`) {
		t.Errorf("a bad day: %d", w.status)
	}
	// Scheduled and published are told apart by more than colour.
	id := scheduledPost(t, editor)
	if cal := editor.get("/calendar"); !strings.Contains(cal.body, `<span class="icon" aria-hidden="true">◷</span> <a href="/posts/`+id+`">`) || !strings.Contains(cal.body, "(scheduled)") {
		t.Error("a scheduled post has no icon and word on the calendar")
	}
}

func TestFavicon(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.srv.URL + "/static/favicon.svg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(string(body), "<svg") {
		t.Fatalf("favicon: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if p := b.browser(t).get("/login"); !strings.Contains(p.body, `<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">`) {
		t.Error("the layout does not link the favicon")
	}
}

func TestSaveDraftLeadsToSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	author := b.browser(t).signedIn("author@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"Bring a candle."}, "action": {"save"}})
	page := author.get("/posts/" + id)
	if !strings.Contains(page.body, `action="/posts/`+id+`/submit"`) {
		t.Fatalf("the page Save draft leads to offers no Submit:\n%s", page.body)
	}
	if p := author.post("/posts/"+id+"/submit", url.Values{"csrf": {author.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %s", p.status, p.body)
	}
	m, _, err := b.c.meta(context.Background(), id)
	if err != nil || m.Workflow != WorkflowReview {
		t.Fatalf("after Submit: %v %v", m.Workflow, err)
	}
	sp, _ := b.st.Post(context.Background(), id)
	if sp.Post.Body != "Bring a candle." {
		t.Errorf("Submit changed the text: %q", sp.Post.Body)
	}
	if p := author.post("/posts/"+id+"/submit", url.Values{"csrf": {author.csrf()}}); p.status != http.StatusForbidden {
		t.Errorf("submitting twice: %d", p.status)
	}
	if p := author.get("/posts/" + id); strings.Contains(p.body, "/submit\"") || !strings.Contains(p.body, "submitted for review") {
		t.Error("after Submit the page still offers Submit, or the history lacks it")
	}
}
