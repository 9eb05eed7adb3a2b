package bot

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// Options.Current is asked for the channel at each publish and delivery: an
// account connected while the bot runs sends the next post, with no
// restart, and OnAttempt is told each attempt's outcome.
func TestCurrentChannelIsAskedAtEachDelivery(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	connected := newFakeChannel("mastodon")
	var switched atomic.Bool
	var mu sync.Mutex
	var attempts []string
	b := h.bot(Options{
		Current: func(_ context.Context, ch channels.Channel) (channels.Channel, error) {
			if switched.Load() {
				return connected.channel(), nil
			}
			return ch, nil
		},
		OnAttempt: func(_ context.Context, channel string, err error) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, channel)
		},
	})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	if _, err := b.Publish(ctx, samplePost("md:before")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the first post sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	switched.Store(true)
	if _, err := b.Publish(ctx, samplePost("md:after")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the second post sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 2 })
	if h.chans[0].count("md:before") != 1 || h.chans[0].count("md:after") != 0 || connected.count("md:after") != 1 {
		t.Fatalf("sent by the channel as started: before %d, after %d; by the connected one: after %d",
			h.chans[0].count("md:before"), h.chans[0].count("md:after"), connected.count("md:after"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 {
		t.Errorf("OnAttempt told of %v, want both attempts", attempts)
	}
}
