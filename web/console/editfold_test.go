package console

import (
	"context"
	"net/url"
	"testing"
	"time"
)

// TestRepeatedEditsAreOneHistoryLine: autosave saves every few seconds, so
// one person's edits close together are one "edited" line whose time moves
// on; another person's edit, or one after a pause, is a line of its own.
func TestRepeatedEditsAreOneHistoryLine(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	tok := author.csrf()
	id := author.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	rev := func() string { // as the write form carries it
		t.Helper()
		m := revisionRe.FindStringSubmatch(author.get("/posts/" + id + "/edit").body)
		if m == nil {
			t.Fatal("the write form carries no revision")
		}
		return m[1]
	}
	edits := func() int {
		t.Helper()
		var n int
		if err := b.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM console_events WHERE post_id = $1 AND action = 'edited'`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, title := range []string{"Vigil on", "Vigil on Friday", "Vigil on Friday at 6"} {
		b.now.Add(5 * time.Second)
		author.post("/posts/"+id, url.Values{"csrf": {tok}, "revision": {rev()}, "title": {title}, "action": {"save"}})
		if n := edits(); n != 1 {
			t.Fatalf("after %d quick edits: %d edited lines, want 1", i+1, n)
		}
	}
	b.now.Add(editFold + time.Minute)
	author.post("/posts/"+id, url.Values{"csrf": {tok}, "revision": {rev()}, "title": {"Vigil on Friday at 6pm"}, "action": {"save"}})
	if n := edits(); n != 2 {
		t.Fatalf("an edit after a pause: %d edited lines, want 2", n)
	}
}
