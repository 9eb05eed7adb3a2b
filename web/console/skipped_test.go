package console

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// TestPostPageShowsASkippedDeliveryNeutrally: a delivery a channel skipped
// by design (Instagram, no picture, cards: false) shows as skipped with its
// note, not as a failure: no problem box, no Retry, and the post lists as
// sent, not failed.
func TestPostPageShowsASkippedDeliveryNeutrally(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	p := post.Post{ID: "md:vigil", Title: "Vigil", Source: post.Source{Kind: "markdown", Name: "posts"}}
	tx, err := b.st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SavePostTx(ctx, tx, p, store.PostPublished, now); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"instagram", "mastodon"} {
		if _, err := store.AddDelivery(ctx, tx, p.ID, ch, false, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	const note = "Skipped: Instagram shows nothing without a picture and this post has none; title cards are off (cards: false) — add an image to the post, or set cards: true"
	if err := b.st.FinishAttempt(ctx, p.ID, "instagram", store.DeliverySkipped, channels.Receipt{}, note, "", false, now); err != nil {
		t.Fatal(err)
	}
	if err := b.st.FinishAttempt(ctx, p.ID, "mastodon", store.DeliverySent, channels.Receipt{RemoteID: "1", RemoteURL: "https://social.example/@camaca/1"}, "", "", false, now); err != nil {
		t.Fatal(err)
	}
	br := b.browser(t).signedIn("editor@example.org")
	page := br.get("/posts/" + p.ID)
	ig := regexp.MustCompile(`(?s)<li class="delivery" id="delivery-instagram">.*?</li>`).FindString(page.body)
	if ig == "" {
		t.Fatalf("no instagram delivery on the page:\n%s", page.body)
	}
	for _, want := range []string{`chip-skipped`, `<p class="skipped">Skipped: Instagram shows nothing without a picture`, "cards: false"} {
		if !strings.Contains(ig, want) {
			t.Errorf("instagram's delivery lacks %q:\n%s", want, ig)
		}
	}
	for _, unwanted := range []string{`class="problem"`, "Retry", "failed", "Error:"} {
		if strings.Contains(ig, unwanted) {
			t.Errorf("instagram's skipped delivery shows %q, as for a failure:\n%s", unwanted, ig)
		}
	}
	if !strings.Contains(page.body, `class="state state-sent"`) {
		t.Errorf("the post should read as sent (mastodon sent, instagram skipped):\n%s", page.body)
	}
	list := br.get("/posts")
	if !strings.Contains(list.body, `<span class="chip chip-skipped">instagram: skipped</span>`) || strings.Contains(list.body, "state-failed") {
		t.Errorf("the posts list should show instagram skipped and the post not failed:\n%s", list.body)
	}
}
