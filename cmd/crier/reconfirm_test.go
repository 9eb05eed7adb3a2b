package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/subscribers"
)

type recordingMailer struct{ links []string }

func (m *recordingMailer) SendConfirmation(ctx context.Context, sub subscribers.Subscriber, link string) error {
	m.links = append(m.links, sub.Email+" "+link)
	return nil
}

// An owner who erased a supporter by mistake can only send them a fresh
// confirmation mail: the address is back on the list, and the erasure
// lifted, only when its owner follows the link.
func TestReconfirmationOfAnErasedSupporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	mailer := &recordingMailer{}
	nl := &subscribers.Newsletter{Store: subs, Signer: subscribers.NewSigner([]byte("0123456789abcdef0123456789abcdef")), Mailer: mailer}
	if err := sendReconfirmation(ctx, nl, "https://crier.camaca.example", "sam@example.org", "owner@camaca.example"); err == nil || !strings.Contains(err.Error(), "was not erased") {
		t.Fatalf("an address never erased: %v", err)
	}
	subs.Add(ctx, subscribers.Subscriber{Email: "sam@example.org", Status: subscribers.Confirmed, ConsentAt: time.Now(), ConsentSource: "test"})
	if err := subs.Delete(ctx, "sam@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := sendReconfirmation(ctx, nl, "https://crier.camaca.example", "sam@example.org", "owner@camaca.example"); err != nil {
		t.Fatal(err)
	}
	if len(mailer.links) != 1 || !strings.HasPrefix(mailer.links[0], "sam@example.org https://crier.camaca.example/") {
		t.Fatalf("mails: %v", mailer.links)
	}
	sub, err := subs.GetByEmail(ctx, "sam@example.org")
	if err != nil || sub.Status != subscribers.Unconfirmed {
		t.Fatalf("after the mail: %+v %v", sub, err)
	}
	if ok, _ := subs.IsSuppressed(ctx, "sam@example.org"); !ok {
		t.Error("the erasure was lifted before its owner confirmed")
	}
	if err := sendReconfirmation(ctx, nl, "https://crier.camaca.example", "sam@example.org", "owner@camaca.example"); err == nil || len(mailer.links) != 1 {
		t.Errorf("a second mail at once: %v, %d mails", err, len(mailer.links))
	}
	if ok, err := subs.Confirm(ctx, sub.ID, subscribers.Confirmation{LinkIssued: time.Now()}); !ok || err != nil {
		t.Fatalf("confirming: %v %v", ok, err)
	}
	if ok, _ := subs.IsSuppressed(ctx, "sam@example.org"); ok {
		t.Error("confirmed, yet still erased")
	}
}
