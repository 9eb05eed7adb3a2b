package discord

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// TestCorrectAnnouncement edits a crossposted announcement once, says that
// following servers see it, and refuses in plain words to correct a
// message deleted in Discord; a rate-limited edit waits what Discord asks.
func TestCorrectAnnouncement(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
	l := &testLedger{}
	p := samplePost("correct-announcement")
	if _, err := send(t, f, s, p, channels.Delivery{Attempt: 1, Ledger: l}); err != nil {
		t.Fatal(err)
	}
	parts, _ := l.Parts(context.Background())
	if len(parts) != 2 {
		t.Fatalf("ledger %+v, want the message and its crosspost", parts)
	}
	p.Title = "Call to Action on child trafficking (corrected)"
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	corr := s.(channels.Corrector)
	c := channels.Correction{PostID: p.ID, Channel: Name, Revision: 1, Parts: parts}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for want, outcome := range []channels.Outcome{channels.OutcomeEdited, channels.OutcomeUnchanged} {
		res, err := corr.Correct(ctx, c, pl)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Outcome != outcome {
			t.Fatalf("correction %d: %+v, want %s", want+1, res, outcome)
		}
		if outcome == channels.OutcomeEdited && !strings.Contains(res[0].Note, "following servers") {
			t.Errorf("note %q does not say following servers see the edit", res[0].Note)
		}
	}
	m := fake.Messages(discordfake.AnnouncementChannelID)[0]
	if m.Edits != 1 || !strings.Contains(m.Embeds[0]["title"].(string), "(corrected)") {
		t.Errorf("the message has %d edits, title %v", m.Edits, m.Embeds[0]["title"])
	}

	p.Title = "Call to Action (corrected twice)"
	again, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	fake.Inject(discordfake.Fault{Operation: "update_message", RetryAfter: 4})
	if _, err := corr.Correct(ctx, channels.Correction{PostID: p.ID, Channel: Name, Revision: 2, Parts: parts}, again); kindOf(err) != channels.KindRateLimited {
		t.Fatalf("a 429 on the edit: %v (%s)", err, kindOf(err))
	}

	res, err := s.(channels.Withdrawer).Withdraw(ctx, channels.Withdrawal{PostID: p.ID, Channel: Name, Parts: parts})
	if err != nil || len(res) != 1 || res[0].Outcome != channels.OutcomeDeleted {
		t.Fatalf("withdraw: %+v %v", res, err)
	}
	_, err = corr.Correct(ctx, c, pl)
	if kindOf(err) != channels.KindPermanent || !strings.Contains(err.Error(), "no longer in Discord") {
		t.Errorf("correcting a deleted message: %v (%s)", err, kindOf(err))
	}
	if _, err := corr.Correct(ctx, channels.Correction{PostID: p.ID, Channel: Name, Revision: 2}, pl); kindOf(err) != channels.KindPermanent || !strings.Contains(err.Error(), "outbox") {
		t.Errorf("correcting a post with no known message: %v", err)
	}
}
