package bounces_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/subscribers"
)

// TestSendCounts: what came back from a send, and the warning once
// complaints pass 0.3% of what was delivered.
func TestSendCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, b := setup(t, bounces.Config{})
	db := b.db.DB()
	ledgerTables(t, db)
	const first, second = "post:md:vigil", "post:md:march"
	sentAt := b.now.Add(-2 * time.Hour)
	addSend(t, db, first, sentAt)
	addSend(t, db, second, b.now.Add(-time.Hour))
	var subs []subscribers.Subscriber
	for i := 0; i < 1000; i++ {
		s := b.confirmed(t, "s"+strings.Repeat("x", i%7)+itoaT(i)+"@example.org")
		subs = append(subs, s)
		sentTo(t, db, first, s.ID, sentAt)
	}
	apply := func(kind string, s subscribers.Subscriber, ref string) {
		t.Helper()
		if _, err := p.Apply(ctx, bounces.Event{Source: "test", Ref: ref, Kind: kind, SubscriberID: s.ID, SendID: first}); err != nil {
			t.Fatal(err)
		}
	}
	apply(bounces.FeedbackHard, subs[0], "h0")
	apply(bounces.FeedbackHard, subs[1], "h1")
	apply(bounces.FeedbackSoft, subs[2], "s2")
	apply(bounces.FeedbackSoft, subs[1], "s1") // hard already: counted once, as hard
	for i := 10; i < 14; i++ {
		apply(bounces.FeedbackComplaint, subs[i], "c"+itoaT(i))
	}
	// An unsubscribe after this send counts for it; one after the next
	// newsletter to that supporter counts for that one.
	b.subs.SetStatus(ctx, subs[20].ID, subscribers.Unsubscribed, "one-click")
	sentTo(t, db, second, subs[21].ID, b.now.Add(-time.Hour))
	b.subs.SetStatus(ctx, subs[21].ID, subscribers.Unsubscribed, "one-click")

	c := countsOf(t, db, first)
	if c.Bounced != 2 || c.SoftBounced != 1 || c.Delivered != 997 || c.Complained != 4 || c.Unsubscribed != 1 {
		t.Fatalf("counts %+v", c)
	}
	if c.ComplaintRate < 0.0040 || c.ComplaintRate > 0.00402 || !strings.Contains(c.Warning, "0.401%") {
		t.Fatalf("rate %v, warning %q", c.ComplaintRate, c.Warning)
	}
	c2 := countsOf(t, db, second)
	if c2.Unsubscribed != 1 || c2.Warning != "" {
		t.Fatalf("second send %+v", c2)
	}
	// Two complaints in 997 deliveries (0.2%) are under the limit.
	db.Exec(`DELETE FROM email_feedback WHERE ref IN ('test:c12', 'test:c13')`)
	if c = countsOf(t, db, first); c.Complained != 2 || c.Warning != "" {
		t.Fatalf("at 0.2%%: %+v", c)
	}
}

func itoaT(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoaT(i/10) + string(rune('0'+i%10))
}

// ledgerTables makes the send ledger's tables (the newsletter owns them).
func ledgerTables(t *testing.T, db *sql.DB) {
	t.Helper()
	if err := newsletter.PrepareLedger(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

// addSend records a finished send started at.
func addSend(t *testing.T, db *sql.DB, id string, at time.Time) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at) VALUES ($1, 'post', $1, 'News', 'done', 0, $2, $2)`, id, at); err != nil {
		t.Fatal(err)
	}
}

// sentTo records send's message to subscriber id as accepted at.
func sentTo(t *testing.T, db *sql.DB, send string, id int64, at time.Time) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO email_recipients (send_id, subscriber_id, state, sent_at) VALUES ($1, $2, 'sent', $3)`, send, id, at); err != nil {
		t.Fatal(err)
	}
}

// countsOf is what came back from send as the newsletter's progress shows
// it (bounces.SendCounts, with the unsubscribes the newsletter counts).
func countsOf(t *testing.T, db *sql.DB, send string) bounces.Counts {
	t.Helper()
	ps, err := newsletter.SendProgress(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.SendID == send {
			return p.Counts
		}
	}
	t.Fatalf("no send %s in %+v", send, ps)
	return bounces.Counts{}
}
