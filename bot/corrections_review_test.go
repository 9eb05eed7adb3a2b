package bot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// Withdrawing a post from every channel it went to, by name (as the
// console does), withdraws the post itself: no digest or correction
// brings it back.
func TestWithdrawByNameFromEveryChannelWithdrawsThePost(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:named", 2)
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:named", Channels: []string{"mastodon", "discord"}, Reason: "wrong", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:named", rev)
	if sp, _ := h.store.Post(ctx, "md:named"); sp.State != store.PostWithdrawn {
		t.Errorf("withdrawn from both channels by name, the post is %s", sp.State)
	}
}

// Withdrawing from one of two channels leaves the post published there.
func TestWithdrawFromOneChannelKeepsThePost(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:one", 2)
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:one", Channels: []string{"discord"}, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:one", rev)
	if sp, _ := h.store.Post(ctx, "md:one"); sp.State != store.PostPublished {
		t.Errorf("withdrawn from discord only, the post is %s", sp.State)
	}
}

// A correction awaiting approval cannot go out after the post was
// withdrawn: approving it would publish the post again.
func TestApprovingAfterAWithdrawalIsRefused(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:late", 1)
	fixed := samplePost("md:late")
	fixed.Title = "Corrected"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:late", Corrected: fixed, By: "author", Pending: true})
	if err != nil {
		t.Fatal(err)
	}
	wrev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:late", By: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:late", wrev)
	if err := b.ApproveCorrection(ctx, "md:late", rev, "editor"); err == nil || !strings.Contains(err.Error(), "withdrawn") {
		t.Errorf("approving after the withdrawal: %v", err)
	}
	if sp, _ := h.store.Post(ctx, "md:late"); sp.State != store.PostWithdrawn {
		t.Errorf("the post is %s", sp.State)
	}
}

// A delivery whose last answer was lost may be out: a withdrawal does not
// call it "not sent" and says to look by hand; nothing is resent.
func TestWithdrawingAnUnsureDeliverySaysToLook(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	h.chans[0].fail = func(channels.Delivery) error { return channels.Ambiguous(errors.New("answer lost")) }
	b := started(t, h, Options{})
	ctx := context.Background()
	if _, err := b.Publish(ctx, samplePost("md:unsure")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("unsure", func(map[store.DeliveryState]int) bool {
		d, err := h.store.Delivery(ctx, "md:unsure", "mastodon")
		return err == nil && d.Unconfirmed
	})
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:unsure", By: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:unsure", rev)
	r, err := h.store.CorrectionResult(ctx, "md:unsure", rev, "mastodon")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.CorrectionFailed || !strings.Contains(r.LastError, "by hand") {
		t.Errorf("withdrawing an unsure delivery: %+v", r)
	}
	if d, _ := h.store.Delivery(ctx, "md:unsure", "mastodon"); d.State != store.DeliveryWithdrawn {
		t.Errorf("the delivery is %s, want withdrawn (never tried again)", d.State)
	}
}

// A delivery waiting for an organiser to say whether it went out (a blind
// sender's lost answer) is not "not sent": withdrawing says to look.
func TestWithdrawingADeliveryWaitingForACheckSaysToLook(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	h.chans[0].fail = func(channels.Delivery) error { return channels.Permanent(errors.New("refused")) }
	b := started(t, h, Options{})
	ctx := context.Background()
	if _, err := b.Publish(ctx, samplePost("md:check")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("failed", func(c map[store.DeliveryState]int) bool { return c[store.DeliveryFailed] == 1 })
	// As a blind sender's lost answer leaves it.
	if _, err := h.store.DB().Exec(`UPDATE deliveries SET error_kind = 'ambiguous', unconfirmed = TRUE WHERE post_id = 'md:check'`); err != nil {
		t.Fatal(err)
	}
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:check", By: "editor"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:check", rev)
	r, _ := h.store.CorrectionResult(ctx, "md:check", rev, "mastodon")
	if r.State != store.CorrectionFailed || !strings.Contains(r.LastError, "by hand") {
		t.Errorf("withdrawing a delivery waiting for a check: %+v", r)
	}
}
