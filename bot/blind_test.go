package bot

import (
	"context"
	"errors"
	"testing"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// blindChannel is a fake channel that cannot read back what it sent
// (channels.BlindSender), as Telegram's Bot API.
type blindChannel struct{ *fakeChannel }

func (blindChannel) CannotReadBack() string { return "the fake network cannot be asked" }

// A channel that cannot read back is never retried blindly after a lost
// answer: the delivery waits for an organiser (also through crier retry
// and a restart's requeue), who says it went out or has it sent again.
func TestBlindSenderWaitsForAnOrganiser(t *testing.T) {
	t.Parallel()
	h := setup(t)
	fc := blindChannel{newFakeChannel("telegram")}
	lost := map[string]bool{"md:went-out": true, "md:missing": true}
	fc.fail = func(d channels.Delivery) error {
		if lost[d.PostID] {
			delete(lost, d.PostID)
			return channels.Ambiguous(errors.New("connection reset after the request was written"))
		}
		return nil
	}
	b := h.bot(Options{Channels: []channels.Channel{{Name: "telegram", Formatter: fc, Sender: fc}}})
	ctx := context.Background()
	deliver := func(id string, n int) error {
		return b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: id, Channel: "telegram"}, number: n, max: 5})
	}
	waiting := func(id string) store.Delivery {
		t.Helper()
		d, err := h.store.Delivery(ctx, id, "telegram")
		if err != nil {
			t.Fatal(err)
		}
		if !d.WaitsForCheck() {
			t.Fatalf("%s: delivery %+v, want it waiting for a check (failed, ambiguous)", id, d)
		}
		return d
	}
	for _, id := range []string{"md:went-out", "md:missing"} {
		if _, err := b.Publish(ctx, samplePost(id)); err != nil {
			t.Fatal(err)
		}
		var cancel *river.JobCancelError
		if err := deliver(id, 1); !errors.As(err, &cancel) {
			t.Fatalf("%s: the attempt whose answer was lost returned %v, want the job cancelled (no retry)", id, err)
		}
		waiting(id)
		// crier retry (the console's Retry) does not send blindly either.
		if _, err := b.Retry(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
		_ = deliver(id, 2)
		waiting(id)
		if n := fc.count(id); n != 1 {
			t.Fatalf("%s: the network got %d copies, want the 1 whose answer was lost", id, n)
		}
	}

	// It went out: recorded as sent, with who said so.
	if err := b.MarkSent(ctx, "md:went-out", "telegram", "ed@camaca.example"); err != nil {
		t.Fatal(err)
	}
	d, _ := h.store.Delivery(ctx, "md:went-out", "telegram")
	if d.State != store.DeliverySent || d.Note == "" {
		t.Errorf("after It went out: %+v, want sent with a note", d)
	}
	if err := b.MarkSent(ctx, "md:went-out", "telegram", "ed@camaca.example"); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("marking a sent delivery again: %v, want ErrNotWaiting", err)
	}

	// Send again: the organiser found it missing, so it is sent.
	if err := b.SendAgain(ctx, "md:missing", "telegram"); err != nil {
		t.Fatal(err)
	}
	if err := deliver("md:missing", 3); err != nil {
		t.Fatal(err)
	}
	if d, _ := h.store.Delivery(ctx, "md:missing", "telegram"); d.State != store.DeliverySent || fc.count("md:missing") != 2 {
		t.Errorf("after Send again: %+v with %d copies sent, want sent with the second", d, fc.count("md:missing"))
	}
	if err := b.SendAgain(ctx, "md:missing", "telegram"); !errors.Is(err, ErrNotWaiting) {
		t.Errorf("sending a sent delivery again: %v, want ErrNotWaiting", err)
	}
}

// A channel that can read back what it sent, but could not this time
// (channels.Unverifiable: Facebook refusing to list the Page's posts),
// waits for an organiser as a blind one does, instead of retrying.
func TestUnverifiableWaitsForAnOrganiser(t *testing.T) {
	t.Parallel()
	h := setup(t)
	fc := newFakeChannel("facebook")
	fc.fail = func(d channels.Delivery) error {
		if d.Attempt == 1 {
			return channels.Unverifiable(errors.New("unknown: check the Page: the Page's posts cannot be read"))
		}
		return nil
	}
	b := h.bot(Options{Channels: []channels.Channel{{Name: "facebook", Formatter: fc, Sender: fc}}})
	ctx := context.Background()
	if _, err := b.Publish(ctx, samplePost("md:vigil")); err != nil {
		t.Fatal(err)
	}
	var cancel *river.JobCancelError
	if err := b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: "md:vigil", Channel: "facebook"}, number: 1, max: 5}); !errors.As(err, &cancel) {
		t.Fatalf("got %v, want the job cancelled (no retry)", err)
	}
	d, err := h.store.Delivery(ctx, "md:vigil", "facebook")
	if err != nil {
		t.Fatal(err)
	}
	if !d.WaitsForCheck() {
		t.Fatalf("delivery %+v, want it waiting for a check (failed, ambiguous)", d)
	}
	if err := b.MarkSent(ctx, "md:vigil", "facebook", "ed@camaca.example"); err != nil {
		t.Fatal(err)
	}
}
