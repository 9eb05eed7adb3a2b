package console

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// TestPostPageTellsASendingProblem: when one domain refuses several mails
// of a post's newsletter for a reason about Crier's sending (spam, a
// blocklist), the post's page tells the organisers what to check, with a
// sample reply and no supporter's address, and nobody is suppressed.
func TestPostPageTellsASendingProblem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	db := b.st.DB()
	subs := b.supporters(t)
	if err := newsletter.PrepareLedger(ctx, db); err != nil {
		t.Fatal(err)
	}
	proc, err := bounces.NewProcessor(ctx, bounces.Options{DB: db, Subscribers: subs})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	p := post.Post{ID: "md:vigil", Title: "Vigil", Source: post.Source{Kind: "markdown", Name: "posts"}}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SavePostTx(ctx, tx, p, store.PostPublished, now); err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddDelivery(ctx, tx, p.ID, "email", false, now); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	const send = "post:md:vigil"
	if _, err := db.Exec(`INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at) VALUES ($1, 'post', $2, 'Vigil', 'done', 4, $3, $3)`, send, p.ID, now); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		s, err := subs.Add(ctx, subscribers.Subscriber{Email: fmt.Sprintf("fan%d@gmail.example", i), Status: subscribers.Confirmed, ConsentSource: "form:/subscribe"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO email_recipients (send_id, subscriber_id, state, sent_at) VALUES ($1, $2, 'sent', $3)`, send, s.ID, now); err != nil {
			t.Fatal(err)
		}
		// The detail as the bounce processor stores a refusal of Crier's
		// sending: the domain, the reason in words, then the evidence.
		ev := bounces.Event{Source: "imap", Ref: fmt.Sprint("r", i), Kind: bounces.FeedbackRefused, SubscriberID: s.ID, SendID: send,
			Detail: "refused by gmail.example " + bounces.ReasonSpamDetected.Plain() + " (spamdetected; diagnostic phrase): 5.7.1 550 5.7.1 Our system has detected that this message is likely unsolicited mail (spam)"}
		if _, err := proc.Apply(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if got, _ := subs.Get(ctx, s.ID); got.Status != subscribers.Confirmed {
			t.Fatalf("%s became %s for a refusal of Crier's sending", s.Email, got.Status)
		}
	}
	b.c.opts.SendReport = func(ctx context.Context, channel, postID string) (channels.SendReport, bool) {
		rep, ok, err := channels.Instance{Name: channel, Provider: email.Provider{}}.SendReport(ctx, db, postID)
		return rep, ok && err == nil
	}
	page := b.browser(t).signedIn("editor@example.org").get("/posts/" + p.ID)
	for _, want := range []string{"Sending problem:", "gmail.example refused 4 mails as spam from your server: check SPF, DKIM", "unsolicited"} {
		if !strings.Contains(page.body, want) {
			t.Fatalf("post page lacks %q:\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, "fan0@") {
		t.Fatal("the warning names a supporter")
	}
}
