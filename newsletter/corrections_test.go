package newsletter

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// TestCorrectionMailGoesToTheOriginalRecipientsOnce: correcting a sent
// newsletter corrects its archive copy ("Corrected on DATE: WHAT") and,
// opted in, mails exactly the supporters who received the original (not one
// who subscribed since), once each, also when the correction is run again.
// Withdrawing then hides the archive copy with its reason.
func TestCorrectionMailGoesToTheOriginalRecipientsOnce(t *testing.T) {
	pgpeer.EachDriver(t, testCorrectionMail)
}

func testCorrectionMail(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	fx.add(t, "anna@example.org", "Anna", subscribers.Confirmed)
	fx.add(t, "ben@example.org", "", subscribers.Confirmed)
	p := samplePost()
	if _, err := fx.send(t, p); err != nil {
		t.Fatal(err)
	}
	fx.add(t, "cara@example.org", "Cara", subscribers.Confirmed) // after the original
	mp.DeleteAll(ctx)

	fixed := p
	fixed.Summary = "Join us at the town hall at 8pm."
	payload, err := fx.sender.f.Format(fixed)
	if err != nil {
		t.Fatal(err)
	}
	c := channels.Correction{PostID: p.ID, Channel: "email", Revision: 1, Note: "the vigil starts at 8pm, not 6pm", Mail: true,
		At: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	for round := range 2 {
		res, err := fx.sender.Correct(ctx, c, payload)
		if err != nil {
			t.Fatalf("correction, round %d: %v", round+1, err)
		}
		if len(res) != 2 || res[0].Outcome != channels.OutcomeEdited || res[1].RemoteID != CorrectionSendID(p.ID, 1) {
			t.Fatalf("results, round %d: %+v", round+1, res)
		}
	}
	got := inbox(t, mp)
	var to []string
	for addr, ids := range got {
		to = append(to, addr)
		if len(ids) != 1 {
			t.Errorf("%s got %d correction mails, want 1", addr, len(ids))
		}
	}
	slices.Sort(to)
	if want := []string{"anna@example.org", "ben@example.org"}; !slices.Equal(to, want) {
		t.Fatalf("the correction mail went to %v, want exactly the original recipients %v", to, want)
	}
	msg, err := mp.Message(ctx, got["anna@example.org"][0])
	if err != nil {
		t.Fatal(err)
	}
	const said = "Corrected on 21 November 2026: the vigil starts at 8pm, not 6pm"
	if !strings.HasPrefix(msg.Subject, "Correction: ") || !strings.Contains(msg.Text, said) || !strings.Contains(msg.HTML, said) || !strings.Contains(msg.Text, "8pm") {
		t.Errorf("correction mail %q:\n%s", msg.Subject, msg.Text)
	}

	arch, _ := archive.Open(ctx, fx.db)
	e, err := arch.Get(ctx, "post:"+p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.HTML, said) || !strings.Contains(e.HTML, "8pm") || e.Correction != c.Note || e.CorrectedAt.IsZero() {
		t.Errorf("the archive copy is not corrected: %q %v\n%s", e.Correction, e.CorrectedAt, e.HTML)
	}
	if list, _ := arch.List(ctx, true, 10); len(list) != 1 {
		t.Errorf("the archive holds %d newsletters: the correction mail must not be one", len(list))
	}

	res, err := fx.sender.Withdraw(ctx, channels.Withdrawal{PostID: p.ID, Channel: "email", Reason: "named the wrong person"})
	if err != nil || res[0].Outcome != channels.OutcomeDeleted {
		t.Fatalf("withdraw: %+v %v", res, err)
	}
	if e, _ := arch.Get(ctx, "post:"+p.ID); !e.Hidden || e.HiddenReason != "named the wrong person" {
		t.Errorf("after the withdrawal: hidden=%v reason=%q", e.Hidden, e.HiddenReason)
	}
}

// Correcting the newsletter of a post it never mailed says so.
func TestCorrectionOfAnUnsentNewsletterIsRefused(t *testing.T) {
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, "", nil)
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fx.sender.Correct(context.Background(), channels.Correction{PostID: "md:vigil", Channel: "email", Revision: 1, Mail: true}, payload)
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "no newsletter of this post was sent") {
		t.Errorf("got %v (%v)", err, k)
	}
}
