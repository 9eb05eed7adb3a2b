package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// resolvingPublisher is the recording publisher with the bot's It went
// out and Send again, on the store as the bot does them.
type resolvingPublisher struct {
	*recordingPublisher
	resent []string
}

func (p *resolvingPublisher) MarkSent(ctx context.Context, postID, channel, by string) error {
	_, err := p.st.ConfirmSent(ctx, postID, channel, "marked as sent by "+by, time.Now())
	return err
}

func (p *resolvingPublisher) SendAgain(ctx context.Context, postID, channel string) error {
	p.mu.Lock()
	p.resent = append(p.resent, postID+" "+channel)
	p.mu.Unlock()
	return nil
}

// A delivery whose channel cannot tell whether it went out (Telegram) asks
// an editor to look: It went out records it as sent, Send again sends it
// again, both in the post's history; an author sees no buttons and cannot
// post them, and neither works without the session's CSRF token.
func TestUnknownDeliveryWaitsForAnEditor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pub := &resolvingPublisher{recordingPublisher: b.pub}
	b.c.opts.Publisher = pub
	ctx := context.Background()
	for _, id := range []string{"md:vigil", "md:march"} {
		p := b.publishedPost(t, id, "telegram")
		if err := b.st.FinishAttempt(ctx, p.ID, "telegram", store.DeliveryFailed, channels.Receipt{},
			"unknown: check the channel: connection reset; the fake cannot read back", channels.KindAmbiguous.String(), true, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	editor := b.browser(t).signedIn("editor@example.org")
	item := deliveryItem(t, editor.get("/posts/md:vigil").body, "telegram")
	for _, want := range []string{`action="/posts/md:vigil/went-out"`, "It went out", `action="/posts/md:vigil/send-again"`, "Send again", "cannot be asked"} {
		if !strings.Contains(item, want) {
			t.Errorf("the delivery waiting for a check lacks %q:\n%s", want, item)
		}
	}
	if strings.Contains(item, ">Retry<") {
		t.Errorf("a delivery waiting for a check offers Retry, which cannot send:\n%s", item)
	}

	author := b.browser(t).signedIn("author@example.org")
	if item := deliveryItem(t, author.get("/posts/md:vigil").body, "telegram"); strings.Contains(item, "/went-out") || strings.Contains(item, "/send-again") {
		t.Errorf("an author is offered It went out:\n%s", item)
	}
	for _, path := range []string{"/went-out", "/send-again"} {
		if p := author.post("/posts/md:vigil"+path, url.Values{"csrf": {author.csrf()}, "channel": {"telegram"}}); p.status != http.StatusForbidden {
			t.Errorf("author POST %s: %d, want 403", path, p.status)
		}
		if p := editor.post("/posts/md:vigil"+path, url.Values{"channel": {"telegram"}}); p.status != http.StatusForbidden {
			t.Errorf("editor POST %s without the CSRF token: %d, want 403", path, p.status)
		}
	}

	r := editor.post("/posts/md:vigil/went-out", url.Values{"csrf": {editor.csrf()}, "channel": {"telegram"}})
	page := editor.follow(r)
	if got := statusNotice(page.body); !strings.HasPrefix(got, "Recorded as sent") {
		t.Errorf("after It went out: notice %q", got)
	}
	if d, _ := b.st.Delivery(ctx, "md:vigil", "telegram"); d.State != store.DeliverySent {
		t.Errorf("after It went out the delivery is %s, want sent", d.State)
	}
	if !strings.Contains(page.body, "marked as sent after checking the channel") {
		t.Errorf("the history does not say who marked it sent:\n%s", page.body)
	}
	// Twice is refused: it no longer waits.
	if p := editor.post("/posts/md:vigil/went-out", url.Values{"csrf": {editor.csrf()}, "channel": {"telegram"}}); p.status == http.StatusSeeOther {
		t.Errorf("It went out on a sent delivery was accepted")
	}

	r = editor.post("/posts/md:march/send-again", url.Values{"csrf": {editor.csrf()}, "channel": {"telegram"}})
	page = editor.follow(r)
	if got := statusNotice(page.body); !strings.HasPrefix(got, "Sending again") {
		t.Errorf("after Send again: notice %q", got)
	}
	if len(pub.resent) != 1 || pub.resent[0] != "md:march telegram" || !strings.Contains(page.body, "sent again after checking the channel") {
		t.Errorf("Send again asked the bot for %v; history:\n%s", pub.resent, page.body)
	}
}
