package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/subscribers"
)

// TestRestoreBouncedSupporter: a bounced supporter's page says why in
// plain words and offers one restore button, which asks the newsletter to
// mail them a fresh confirmation; other supporters have no such button.
func TestRestoreBouncedSupporter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	subs, err := subscribers.Open(ctx, b.st.DB())
	if err != nil {
		t.Fatal(err)
	}
	b.c.opts.Subscribers = subs
	var asked []string
	b.c.opts.Restore = func(ctx context.Context, id int64, by string) error {
		asked = append(asked, itoa(int(id))+" "+by)
		return nil
	}
	sub, err := subs.Add(ctx, subscribers.Subscriber{Email: "sam@example.org", Status: subscribers.Confirmed, ConsentSource: "form:/subscribe"})
	if err != nil {
		t.Fatal(err)
	}
	editor := b.browser(t).signedIn("editor@example.org")
	page := "/supporters/" + itoa(int(sub.ID))
	if p := editor.get(page); strings.Contains(p.body, "/restore") {
		t.Fatal("a confirmed supporter can be restored")
	}
	subs.SetStatus(ctx, sub.ID, subscribers.Bounced, "hard bounce, via imap: the mailbox does not exist (userunknown; status 5.1.1): 5.1.1 smtp; 550 user unknown")
	p := editor.get(page)
	if !strings.Contains(p.body, "the mailbox does not exist") || !strings.Contains(p.body, page+"/restore") {
		t.Fatalf("bounced supporter's page:\n%s", p.body)
	}
	r := editor.post(page+"/restore", url.Values{"csrf": {editor.csrf()}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "A confirmation mail went to sam@example.org") {
		t.Fatalf("restore: %d\n%s", r.status, r.body)
	}
	if len(asked) != 1 || asked[0] != itoa(int(sub.ID))+" console: restored after a bounce by editor@example.org" {
		t.Fatalf("asked %v", asked)
	}
	if got, _ := subs.Get(ctx, sub.ID); got.Status != subscribers.Bounced {
		t.Fatalf("restore changed the status before any confirmation: %s", got.Status)
	}
}
