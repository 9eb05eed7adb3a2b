package subscribers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type linkMailer struct{ links []string }

func (m *linkMailer) SendConfirmation(ctx context.Context, sub Subscriber, confirmURL string) error {
	m.links = append(m.links, confirmURL)
	return nil
}

// TestReconfirmRestoresOnlyOnConfirmation: restoring a bounced supporter
// mails them a fresh link and changes nothing until they follow it; then
// the consent history gets a new record naming the organiser's request.
func TestReconfirmRestoresOnlyOnConfirmation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, clock := openTest(t)
	m := &linkMailer{}
	n := &Newsletter{Store: s, Signer: NewSigner([]byte("0123456789abcdef0123456789abcdef")), Mailer: m}
	sub, err := s.Add(ctx, Subscriber{Email: "ann@example.org", Status: Confirmed, ConsentAt: clock.Now(), ConsentSource: "form:/subscribe"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconfirm(ctx, sub.ID, "https://camaca.example", "console: restored after a bounce by ed@example.org", clock.Now()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("restoring a confirmed supporter: %v", err)
	}
	clock.t = clock.t.Add(time.Hour)
	s.SetStatus(ctx, sub.ID, Bounced, "hard bounce, via imap: the mailbox does not exist (userunknown; status 5.1.1)")
	before, _ := s.History(ctx, sub.ID)
	clock.t = clock.t.Add(time.Hour)
	if err := n.Reconfirm(ctx, sub.ID, "https://camaca.example", "console: restored after a bounce by ed@example.org", clock.Now()); err != nil {
		t.Fatal(err)
	}
	if len(m.links) != 1 || !strings.HasPrefix(m.links[0], "https://camaca.example/confirm") {
		t.Fatalf("mails %v", m.links)
	}
	got, _ := s.Get(ctx, sub.ID)
	after, _ := s.History(ctx, sub.ID)
	if got.Status != Bounced || len(after) != len(before) {
		t.Fatalf("restoring changed the record before any confirmation: %s, %d events (was %d)", got.Status, len(after), len(before))
	}
	if err := n.Reconfirm(ctx, sub.ID, "https://camaca.example", "again", clock.Now()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a second restore at once: %v", err)
	}
	if ok, err := s.Confirm(ctx, sub.ID, Confirmation{LinkIssued: clock.Now(), IP: "203.0.113.7"}); !ok || err != nil {
		t.Fatalf("confirming: %v %v", ok, err)
	}
	got, _ = s.Get(ctx, sub.ID)
	if got.Status != Confirmed || got.ConsentSource != "console: restored after a bounce by ed@example.org" {
		t.Fatalf("after confirming: %+v", got)
	}
}
