package console

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

func TestSupporterSearchFindsAnyPartOfAddressOrName(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, testSupporterSearch)
}

func testSupporterSearch(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	subs := b.supporters(t)
	var logs bytes.Buffer
	b.c.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	for _, s := range []subscribers.Subscriber{
		{Email: "sam.okafor@example.org", Name: "Sam Okafor"},
		{Email: "r.jones@camaca.example", Name: "Rhiannon Jones"},
		{Email: "x_y@example.net", Name: "100% Ally"},
		{Email: "xzy@example.net", Name: "Other"},
	} {
		if _, err := subs.Add(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	editor := b.browser(t).signedIn("editor@example.org")
	page := editor.get("/supporters")
	if !strings.Contains(page.body, `<label for="q">Find by address or name</label>`) {
		t.Error("the search field is not labelled for address or name")
	}
	for _, c := range []struct {
		q          string
		want, not_ []string
	}{
		{"okafor", []string{"sam.okafor@example.org"}, []string{"r.jones@"}},            // middle of the address
		{"@camaca.example", []string{"r.jones@camaca.example"}, []string{"sam.okafor"}}, // the domain
		{"rhiannon", []string{"r.jones@camaca.example"}, []string{"sam.okafor"}},        // the name, any case
		{"JONES", []string{"r.jones@camaca.example"}, nil},
		{"x_y", []string{"x_y@example.net"}, []string{"xzy@example.net"}},  // _ is no wildcard
		{"100%", []string{"x_y@example.net"}, []string{"xzy@example.net"}}, // nor is %
		{"%", []string{"x_y@example.net"}, []string{"sam.okafor", "xzy@"}},
	} {
		p := editor.get("/supporters?q=" + url.QueryEscape(c.q))
		if p.status != http.StatusOK {
			t.Fatalf("q=%q: %d", c.q, p.status)
		}
		for _, w := range c.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("q=%q does not find %s", c.q, w)
			}
		}
		for _, n := range c.not_ {
			if strings.Contains(p.body, n) {
				t.Errorf("q=%q finds %s too", c.q, n)
			}
		}
	}
	if p := editor.get("/supporters?q=nobody"); !strings.Contains(p.body, "No supporter’s address or name contains “nobody”") {
		t.Error("no answer when nothing matches")
	}
	if strings.Contains(logs.String(), "@") {
		t.Errorf("an address reached the log:\n%s", logs.String())
	}
}

func TestEditorSendsBackWithACommentTheAuthorSees(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, testSendBack)
}

func testSendBack(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := author.newPost(url.Values{"title": {"Vigil on Friday"}, "body": {"Join us at 6pm."}, "action": {"submit"}})
	etok := editor.csrf()
	if p := editor.get("/posts/" + id); !strings.Contains(p.body, `<label for="sendback-comment">What should the author change?</label>`) {
		t.Error("the editor is offered no labelled send-back form")
	}
	if p := editor.post("/posts/"+id+"/sendback", url.Values{"comment": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("send back without a CSRF token: %d", p.status)
	}
	if p := author.post("/posts/"+id+"/sendback", url.Values{"csrf": {author.csrf()}, "comment": {"x"}}); p.status != http.StatusForbidden {
		t.Errorf("an author sent a post back: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/sendback", url.Values{"csrf": {etok}, "comment": {"  "}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Say what the author should change") {
		t.Errorf("send back without a comment: %d", p.status)
	}
	comment := "Please say the entrance is step-free.\nAnd <bring a candle>."
	if p := editor.post("/posts/"+id+"/sendback", url.Values{"csrf": {etok}, "comment": {comment}}); p.status != http.StatusSeeOther {
		t.Fatalf("send back: %d %s", p.status, p.body)
	}
	if m, _, _ := b.c.meta(ctx, id); m.Workflow != WorkflowDraft {
		t.Fatalf("after send back the workflow is %s", m.Workflow)
	}
	page := author.get("/posts/" + id)
	quoted := "Please say the entrance is step-free.\nAnd &lt;bring a candle&gt;."
	if !strings.Contains(page.body, "Sent back by editor@example.org") || strings.Count(page.body, quoted) != 2 {
		t.Errorf("the author's page does not show the comment at the top and in the history:\n%s", page.body)
	}
	if !strings.Contains(page.body, "editor@example.org: sent back<blockquote") {
		t.Error("the history lacks the send back")
	}
	// A post only in draft can't be sent back.
	if p := editor.post("/posts/"+id+"/sendback", url.Values{"csrf": {etok}, "comment": {"again"}}); p.status != http.StatusForbidden {
		t.Errorf("sending back a draft: %d", p.status)
	}
	// The author answers in the history and submits again: the banner goes.
	tok := author.csrf()
	if p := author.post("/posts/"+id+"/comment", url.Values{"csrf": {tok}, "comment": {"Done, thanks!"}}); p.status != http.StatusSeeOther {
		t.Fatalf("comment: %d %s", p.status, p.body)
	}
	if p := author.post("/posts/"+id+"/comment", url.Values{"csrf": {tok}, "comment": {strings.Repeat("é", maxComment+1)}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "longer than 2000") {
		t.Errorf("an overlong comment: %d", p.status)
	}
	if p := author.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"Vigil on Friday"}, "body": {"Step-free."}, "action": {"submit"}}); p.status != http.StatusSeeOther {
		t.Fatalf("submit again: %d", p.status)
	}
	page = editor.get("/posts/" + id)
	if !strings.Contains(page.body, `author@example.org: commented<blockquote class="comment">Done, thanks!</blockquote>`) ||
		!strings.Contains(page.body, `<label for="comment">Comment</label>`) {
		t.Error("the comment is not in the history, or the comment form is unlabelled")
	}
	if strings.Contains(page.body, "Sent back by") {
		t.Error("the send-back banner stays after the author submitted again")
	}
}

func TestPostsSearchTitleAndText(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, testPostsSearch)
}

func testPostsSearch(t *testing.T, driver string) {
	b := setupOn(t, driver)
	author := b.browser(t).signedIn("author@example.org")
	vigil := author.newPost(url.Values{"title": {"Vigil on Friday"}, "body": {"Bring a CANDLE; the square is step-free."}, "action": {"save"}})
	march := author.newPost(url.Values{"title": {"March for 50% fares"}, "body": {"Meet at the station."}, "action": {"save"}})
	other := author.newPost(url.Values{"title": {"Newsletter"}, "body": {"Read about 500 fares and the body count."}, "action": {"save"}})
	if p := author.get("/posts"); !strings.Contains(p.body, `<label for="q">Search title and text</label>`) {
		t.Error("the posts page has no labelled search field")
	}
	for _, c := range []struct {
		q        string
		want     []string
		not_     []string
		wantNone bool
	}{
		{"vigil", []string{vigil}, []string{march, other}, false},  // title, any case
		{"candle", []string{vigil}, []string{march, other}, false}, // text, any case
		{"50%", []string{march}, []string{other}, false},           // % is no wildcard
		{"title", nil, []string{vigil, march, other}, true},        // not the stored field names
		{"body", []string{other}, []string{vigil, march}, false},
	} {
		p := author.get("/posts?q=" + url.QueryEscape(c.q))
		for _, id := range c.want {
			if !strings.Contains(p.body, "/posts/"+id+`"`) {
				t.Errorf("q=%q does not find %s", c.q, id)
			}
		}
		for _, id := range c.not_ {
			if strings.Contains(p.body, "/posts/"+id+`"`) {
				t.Errorf("q=%q finds %s too", c.q, id)
			}
		}
		if c.wantNone && !strings.Contains(p.body, "No posts match these filters") {
			t.Errorf("q=%q: no answer for nothing found", c.q)
		}
	}
	if rows, _, err := b.c.listPostsMatching(context.Background(), "draft", "console", "fares", 1); err != nil || len(rows) != 2 {
		t.Fatalf("search with the filters: %d rows, %v", len(rows), err)
	}
	if got := listURL("draft", "", "fares", 2); got != "/posts?page=2&q=fares&state=draft" {
		t.Errorf("the next page forgets the search: %s", got)
	}
}

func TestDuplicateMakesADraftWithTheSameFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	body, ctype := multipartForm(t, map[string]string{"csrf": tok, "title": "Vigil", "body": "Bring a candle.", "summary": "Vigil at 6",
		"link": "https://camaca.example/vigil", "tags": "vigil, camaca", "alt": "Candles in the square", "content_warning": "grief",
		"language": "en", "text_mastodon": "Vigil tonight", "skip_discord": "1", "action": "save"}, "image", "c.png", pngHeader())
	req, _ := http.NewRequest("POST", b.srv.URL+"/posts", body)
	req.Header.Set("Content-Type", ctype)
	resp, err := editor.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	id := postIDOf(p.loc)
	if p.status != http.StatusSeeOther || id == "" {
		t.Fatalf("creating: %d %s", p.status, p.body)
	}
	author := b.browser(t).signedIn("author@example.org")
	if p := author.get("/posts/" + id); !strings.Contains(p.body, ">Duplicate</button>") {
		t.Error("the post page offers no Duplicate")
	}
	if p := author.post("/posts/"+id+"/duplicate", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("duplicate without a CSRF token: %d", p.status)
	}
	p = author.post("/posts/"+id+"/duplicate", url.Values{"csrf": {author.csrf()}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/posts/console:") || !strings.HasSuffix(p.loc, "/edit") {
		t.Fatalf("duplicate: %d %q", p.status, p.loc)
	}
	copyID := strings.TrimSuffix(strings.TrimPrefix(p.loc, "/posts/"), "/edit")
	orig, _ := b.st.Post(ctx, id)
	dup, err := b.st.Post(ctx, copyID)
	if err != nil || copyID == id {
		t.Fatalf("the copy %s: %v", copyID, err)
	}
	o, d := orig.Post, dup.Post
	if d.Title != o.Title || d.Body != o.Body || d.Summary != o.Summary || d.Link != o.Link || strings.Join(d.Tags, ",") != strings.Join(o.Tags, ",") ||
		d.ContentWarning != o.ContentWarning || d.Language != o.Language || d.Image == nil || *d.Image != *o.Image || d.Image.Alt != "Candles in the square" ||
		d.TextFor("mastodon") != "Vigil tonight" || !d.Skips("discord") || !d.Draft || dup.State != store.PostDraft || d.Source.Kind != Kind {
		t.Fatalf("copy\n%+v\nof\n%+v", d, o)
	}
	if m, _, _ := b.c.meta(ctx, copyID); m.Workflow != WorkflowDraft || m.Author != "author@example.org" {
		t.Fatalf("the copy's bookkeeping: %+v", m)
	}
	edit := author.get(p.loc)
	if edit.status != http.StatusOK || !strings.Contains(edit.body, "Candles in the square") || !strings.Contains(edit.body, "Bring a candle.") {
		t.Fatalf("opening the copy: %d", edit.status)
	}
	if h := author.get("/posts/" + copyID); !strings.Contains(h.body, "author@example.org: created (as a copy of "+id+")") {
		t.Error("the copy's history does not say what it copies")
	}
}

func TestDeleteDraftAsksFirstAndOnlyForDrafts(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, testDeleteDraft)
}

func testDeleteDraft(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	if _, err := b.users.Add(ctx, "author2@example.org", RoleAuthor, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	author := b.browser(t).signedIn("author@example.org")
	other := b.browser(t).signedIn("author2@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := author.newPost(url.Values{"title": {"Old idea"}, "body": {"Scrap this."}, "action": {"save"}})
	tok := author.csrf()
	if p := author.get("/posts/" + id); !strings.Contains(p.body, `href="/posts/`+id+`/delete"`) {
		t.Error("the post page has no Delete draft link")
	}
	if p := other.get("/posts/" + id); strings.Contains(p.body, "/delete") {
		t.Error("another author is offered Delete")
	}
	confirm := author.get("/posts/" + id + "/delete")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Delete the draft “Old idea”?") || !strings.Contains(confirm.body, "cannot be undone") ||
		!strings.Contains(confirm.body, `name="confirm" value="yes"`) {
		t.Fatalf("the confirmation page: %d\n%s", confirm.status, confirm.body)
	}
	// Without the confirmation, without a CSRF token or by someone else: kept.
	if p := author.post("/posts/"+id+"/delete", url.Values{"csrf": {tok}}); p.status != http.StatusOK || !strings.Contains(p.body, "cannot be undone") {
		t.Errorf("unconfirmed delete: %d", p.status)
	}
	if p := author.post("/posts/"+id+"/delete", url.Values{"confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("delete without a CSRF token: %d", p.status)
	}
	if p := other.post("/posts/"+id+"/delete", url.Values{"csrf": {other.csrf()}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("another author deleted the draft: %d", p.status)
	}
	if _, err := b.st.Post(ctx, id); err != nil {
		t.Fatalf("the draft went before it was confirmed: %v", err)
	}
	// Not a draft: in review, or scheduled.
	sched := editor.newPost(url.Values{"title": {"Going out"}, "action": {"schedule"}, "schedule_for": {"2031-06-01T09:00"}})
	etok := editor.csrf()
	if p := editor.post("/posts/"+sched+"/delete", url.Values{"csrf": {etok}, "confirm": {"yes"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "Only a draft") {
		t.Errorf("deleting a scheduled post: %d", p.status)
	}
	if p := author.post("/posts/"+id+"/delete", url.Values{"csrf": {tok}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("confirmed delete: %d %s", p.status, p.body)
	}
	if _, err := b.st.Post(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted draft is still stored: %v", err)
	}
	var n int
	if err := b.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM console_events WHERE post_id = $1`, id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d history rows left (%v)", n, err)
	}
	if p := author.get("/posts?deleted=1"); !strings.Contains(p.body, "The draft was deleted.") || strings.Contains(p.body, id) {
		t.Error("the posts list does not confirm the deletion")
	}
	// An editor may delete an author's draft.
	id2 := author.newPost(url.Values{"title": {"Another"}, "action": {"save"}})
	if p := editor.post("/posts/"+id2+"/delete", url.Values{"csrf": {etok}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Errorf("an editor deleting an author's draft: %d", p.status)
	}
}
