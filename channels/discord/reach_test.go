package discord

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// TestReachReactions reads the reactions members left on the message, in
// bot and webhook mode, from the spec-checked fake (which also checks the
// request and its own answer against Discord's OpenAPI document).
func TestReachReactions(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"bot":     botConfig(discordfake.AnnouncementChannelID),
		"webhook": {Enabled: true, WebhookURL: secret.Secret(discordfake.WebhookURL(discordfake.WebhookID))},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake, f, s := setup(t, cfg)
			ledger := &testLedger{}
			rc, err := send(t, f, s, samplePost("md:vigil"), channels.Delivery{Ledger: ledger})
			if err != nil {
				t.Fatal(err)
			}
			rr := s.(channels.ReachReader)
			parts, _ := ledger.Parts(context.Background())

			r, err := rr.ReadReach(context.Background(), parts, channels.ReachOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Parts) != 1 || r.Total.Reactions != channels.CountOf(0) {
				t.Errorf("before any reaction: %+v, want one part with a known 0 reactions", r)
			}
			fake.React(rc.RemoteID, "🕯️", 3)
			fake.React(rc.RemoteID, "❤️", 2)
			r, err = rr.ReadReach(context.Background(), parts, channels.ReachOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Total.Reactions != channels.CountOf(5) {
				t.Errorf("reactions = %v, want 5", r.Total.Reactions)
			}
			if c := r.Total; c.Replies.Known || c.Reposts.Known || c.Likes.Known || c.Quotes.Known {
				t.Errorf("counters Discord does not give are known: %+v", c)
			}
		})
	}
}

// TestReachFailures: a deleted message is Permanent, a 429 RateLimited
// with its wait, a 500 Temporary.
func TestReachFailures(t *testing.T) {
	t.Parallel()
	gone := []channels.Part{{Index: partMessage, RemoteID: "900000000000000999"}}
	for name, tc := range map[string]struct {
		fault *discordfake.Fault
		kind  channels.Kind
	}{
		"unknown message": {nil, channels.KindPermanent},
		"429":             {&discordfake.Fault{Operation: "get_message", RetryAfter: 42}, channels.KindRateLimited},
		"500":             {&discordfake.Fault{Operation: "get_message", Status: http.StatusInternalServerError}, channels.KindTemporary},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fake, _, s := setup(t, botConfig(discordfake.TextChannelID))
			if tc.fault != nil {
				fake.Inject(*tc.fault)
			}
			_, err := s.(channels.ReachReader).ReadReach(context.Background(), gone, channels.ReachOptions{})
			kind, wait := channels.Classify(err)
			if kind != tc.kind {
				t.Errorf("%v (%v), want %v", kind, err, tc.kind)
			}
			if kind == channels.KindRateLimited && wait < 40*time.Second {
				t.Errorf("wait %v, want about 42s", wait)
			}
		})
	}
}
