package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// A delivery that fails for good (permanently, or out of attempts) is
// told to Options.OnFailed once, with its post, channel and error; a
// delivery that succeeds, or will be retried, is not.
func TestOnFailedIsToldOfDeliveriesFailedForGood(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord", "email")
	h.chans[1].fail = func(channels.Delivery) error { return channels.Temporary(errors.New("discord is down (502)")) }
	h.chans[2].fail = func(channels.Delivery) error { return channels.Permanent(errors.New("535 authentication failed")) }
	var mu sync.Mutex
	var told []string
	b := h.bot(Options{OnFailed: func(ctx context.Context, postID, channel string, err error) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, postID+" "+channel+" "+err.Error())
	}})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:one")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The hook runs just after the ledger is written: wait for both.
	h.waitFor("mastodon sent, discord and email failed and told", func(c map[store.DeliveryState]int) bool {
		mu.Lock()
		defer mu.Unlock()
		return c[store.DeliverySent] == 1 && c[store.DeliveryFailed] == 2 && len(told) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(told)
	if len(told) != 2 || !strings.HasPrefix(told[0], "md:one discord discord is down") || !strings.HasPrefix(told[1], "md:one email 535") {
		t.Errorf("OnFailed was told %q; want discord (out of attempts) and email (permanent), once each", told)
	}
}

// OnSent is told once every delivery of a post is sent, not before.
func TestOnSentIsToldWhenEveryDeliveryIsSent(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	release := make(chan struct{})
	h.chans[1].fail = func(channels.Delivery) error { <-release; return nil }
	var mu sync.Mutex
	var told []string
	b := h.bot(Options{OnSent: func(ctx context.Context, postID string) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, postID)
	}})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	if _, err := b.Publish(ctx, samplePost("md:one")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("mastodon sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	mu.Lock()
	if len(told) != 0 {
		t.Errorf("OnSent told %v while discord is still sending", told)
	}
	mu.Unlock()
	close(release)
	h.waitFor("both sent and told", func(c map[store.DeliveryState]int) bool {
		mu.Lock()
		defer mu.Unlock()
		return c[store.DeliverySent] == 2 && len(told) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(told, []string{"md:one"}) {
		t.Errorf("OnSent told %v, want md:one once", told)
	}
}
