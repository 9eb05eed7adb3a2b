package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
