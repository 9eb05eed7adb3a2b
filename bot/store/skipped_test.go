package store

import (
	"context"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

// TestSkippedIsFinal: a skipped delivery keeps its state and note, is never
// queued or started again, is not unfinished, and its post lists as sent
// when the others went out, on both databases.
func TestSkippedIsFinal(t *testing.T) { pgpeer.Each(t, testSkippedIsFinal) }

func testSkippedIsFinal(t *testing.T, driver, target string) {
	st := open(t, driver, target)
	ctx := context.Background()
	now := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	p := post.Post{ID: "md:vigil", Title: "Vigil", Source: post.Source{Kind: "markdown"}}
	tx, _ := st.DB().BeginTx(ctx, nil)
	if err := SavePostTx(ctx, tx, p, PostPublished, now); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []string{"instagram", "mastodon"} {
		if _, err := AddDelivery(ctx, tx, p.ID, ch, false, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	const note = "Skipped: Instagram shows nothing without a picture and this post has none; title cards are off (cards: false)"
	for ch, state := range map[string]DeliveryState{"instagram": DeliverySkipped, "mastodon": DeliverySent} {
		if _, err := st.StartAttempt(ctx, p.ID, ch, now); err != nil {
			t.Fatal(err)
		}
		msg := ""
		if state == DeliverySkipped {
			msg = note
		}
		if err := st.FinishAttempt(ctx, p.ID, ch, state, channels.Receipt{}, msg, "", false, now); err != nil {
			t.Fatal(err)
		}
	}
	d, err := st.Delivery(ctx, p.ID, "instagram")
	if err != nil || d.State != DeliverySkipped || d.LastError != note || d.Attempts != 1 {
		t.Fatalf("read back %+v, %v; want skipped with its note", d, err)
	}
	before, err := st.StartAttempt(ctx, p.ID, "instagram", now.Add(time.Minute))
	if err != nil || before.State != DeliverySkipped {
		t.Fatalf("starting a skipped delivery: %+v, %v", before, err)
	}
	if d, _ := st.Delivery(ctx, p.ID, "instagram"); d.State != DeliverySkipped || d.Attempts != 1 {
		t.Fatalf("a skipped delivery was started again: %+v", d)
	}
	tx, _ = st.DB().BeginTx(ctx, nil)
	need, err := AddDelivery(ctx, tx, p.ID, "instagram", false, now)
	tx.Rollback()
	if err != nil || need {
		t.Fatalf("a skipped delivery must never be queued again: %v, %v", need, err)
	}
	if un, err := st.Unfinished(ctx); err != nil || len(un) != 0 {
		t.Fatalf("unfinished: %+v, %v", un, err)
	}
	if s, err := st.PostStatus(ctx, p.ID); err != nil || s != StatusSent {
		t.Fatalf("the post's status is %q, %v; want sent (a skip is neither failed nor still sending)", s, err)
	}
	if rows, _, err := st.ListPosts(ctx, PostQuery{Status: StatusSent}); err != nil || len(rows) != 1 {
		t.Fatalf("listing sent posts: %+v, %v", rows, err)
	}
}
