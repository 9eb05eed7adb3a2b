package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// skipFormatter declines every post the way Instagram's formatter declines
// a post without a picture when cards are off.
type skipFormatter struct{ *fakeChannel }

const skipNote = "Skipped: Instagram shows nothing without a picture and this post has none; title cards are off (cards: false)"

func (skipFormatter) Format(post.Post) (channels.Payload, error) {
	return channels.Payload{}, channels.Skip(errors.New(skipNote))
}

// A Skip from a formatter or a sender ends the delivery skipped, with its
// note, after one attempt: not failed, not retried, no failure counted or
// told to organisers, never queued again; the post counts as all done.
func TestSkipEndsTheDeliverySkippedNotFailed(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "threads")
	h.chans[1].fail = func(channels.Delivery) error { return channels.Skip(errors.New("Skipped: threads declined it")) }
	ig := newFakeChannel("instagram")
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	var failed, sent []string
	b := h.bot(Options{Metrics: NewMetrics(reg),
		Channels: []channels.Channel{{Name: "instagram", Formatter: skipFormatter{ig}, Sender: ig}},
		OnFailed: func(_ context.Context, postID, channel string, err error) {
			mu.Lock()
			defer mu.Unlock()
			failed = append(failed, channel+": "+err.Error())
		},
		OnSent: func(_ context.Context, postID string) { mu.Lock(); defer mu.Unlock(); sent = append(sent, postID) },
	})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:one")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.waitFor("mastodon sent, instagram and threads skipped, the post told as done", func(c map[store.DeliveryState]int) bool {
		mu.Lock()
		defer mu.Unlock()
		return c[store.DeliverySent] == 1 && c[store.DeliverySkipped] == 2 && len(sent) > 0
	})
	for ch, note := range map[string]string{"instagram": skipNote, "threads": "Skipped: threads declined it"} {
		d, err := h.store.Delivery(ctx, "md:one", ch)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != store.DeliverySkipped || d.LastError != note || d.ErrorKind != "" || d.Attempts != 1 {
			t.Errorf("%s: %+v; want skipped after one attempt, the note %q as it is, no error kind", ch, d, note)
		}
	}
	// Neither retried by Retry nor queued again by publishing once more.
	if queued, err := b.Retry(ctx, "md:one", nil); err != nil || len(queued) != 0 {
		t.Errorf("Retry queued %v, %v; want nothing", queued, err)
	}
	if queued, err := b.Publish(ctx, p); err != nil || slices.Contains(queued, "instagram") || slices.Contains(queued, "threads") {
		t.Errorf("publishing again queued %v, %v; want no skipped channel", queued, err)
	}
	if d, _ := h.store.Delivery(ctx, "md:one", "instagram"); d.State != store.DeliverySkipped || d.Attempts != 1 {
		t.Errorf("instagram after Retry and Publish: %+v", d)
	}
	if ig.count("md:one") != 0 || h.chans[1].count("md:one") != 0 {
		t.Error("a skipped post reached the network")
	}
	// Named, it is tried again (the cause fixed): here threads now takes it.
	h.chans[1].mu.Lock()
	h.chans[1].fail = nil
	h.chans[1].mu.Unlock()
	// Right after the skip, River may still be finishing its job, and
	// Retry says to try again in a moment: an organiser would.
	var queued []string
	var err error
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		queued, err = b.Retry(ctx, "md:one", []string{"threads"})
		if err == nil || !strings.Contains(err.Error(), "still finishing") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !slices.Equal(queued, []string{"threads"}) {
		t.Errorf("Retry naming threads queued %v, %v; want threads", queued, err)
	}
	h.waitFor("threads sent on a named retry", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 2 })
	mu.Lock()
	if len(failed) != 0 {
		t.Errorf("OnFailed was told %q; a skip is not a failure", failed)
	}
	mu.Unlock()
	// Nothing went out on instagram: nothing there to correct or withdraw.
	fixed := samplePost("md:one")
	fixed.Title = "The vigil starts at eight"
	if _, err := b.Correct(ctx, CorrectRequest{PostID: "md:one", Corrected: fixed, Channels: []string{"instagram"}, By: "ana"}); err == nil || !strings.Contains(err.Error(), "skipped on instagram") {
		t.Errorf("correcting on instagram: %v; want refused, it was skipped", err)
	}
	if _, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:one", Channels: []string{"instagram"}, By: "ana"}); err == nil || !strings.Contains(err.Error(), "skipped on instagram") {
		t.Errorf("withdrawing from instagram: %v; want refused, it was skipped", err)
	}
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:one", Corrected: fixed, Note: "eight", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range waitCorrection(t, h, "md:one", rev).Results {
		if r.Channel == "instagram" {
			t.Errorf("a correction went to instagram, where the post was skipped: %+v", r)
		}
	}
	outcomes := deliveryOutcomes(t, reg)
	if outcomes["instagram skipped"] != 1 || outcomes["threads skipped"] != 1 || outcomes["instagram permanent"] != 0 || outcomes["threads permanent"] != 0 {
		t.Errorf("crier_deliveries_total: %v; want one skipped each, no permanent", outcomes)
	}
	// Withdrawn everywhere: nothing is asked of instagram, which stays skipped.
	rev, err = b.Withdraw(ctx, WithdrawRequest{PostID: "md:one", Reason: "cancelled", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range waitCorrection(t, h, "md:one", rev).Results {
		if r.Channel == "instagram" {
			t.Errorf("a withdrawal went to instagram, where the post was skipped: %+v", r)
		}
	}
	if d, _ := h.store.Delivery(ctx, "md:one", "instagram"); d.State != store.DeliverySkipped {
		t.Errorf("instagram after the withdrawal: %+v; want still skipped", d)
	}
}

// deliveryOutcomes reads crier_deliveries_total as "channel outcome" → n.
func deliveryOutcomes(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "crier_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ch, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "channel":
					ch = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			out[ch+" "+outcome] = m.GetCounter().GetValue()
		}
	}
	return out
}
