package bounces_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bounces"
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
	db.Exec(`INSERT INTO email_sends VALUES ($1, $2), ($3, $4)`, first, sentAt, second, b.now.Add(-time.Hour))
	var subs []subscribers.Subscriber
	for i := 0; i < 1000; i++ {
		s := b.confirmed(t, "s"+strings.Repeat("x", i%7)+itoaT(i)+"@example.org")
		subs = append(subs, s)
		db.Exec(`INSERT INTO email_recipients VALUES ($1, $2, 'sent', $3)`, first, s.ID, sentAt)
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
	db.Exec(`INSERT INTO email_recipients VALUES ($1, $2, 'sent', $3)`, second, subs[21].ID, b.now.Add(-time.Hour))
	b.subs.SetStatus(ctx, subs[21].ID, subscribers.Unsubscribed, "one-click")

	c, err := bounces.SendCounts(ctx, db, first, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if c.Bounced != 2 || c.SoftBounced != 1 || c.Delivered != 997 || c.Complained != 4 || c.Unsubscribed != 1 {
		t.Fatalf("counts %+v", c)
	}
	if c.ComplaintRate < 0.0040 || c.ComplaintRate > 0.00402 || !strings.Contains(c.Warning, "0.401%") {
		t.Fatalf("rate %v, warning %q", c.ComplaintRate, c.Warning)
	}
	c2, _ := bounces.SendCounts(ctx, db, second, 1)
	if c2.Unsubscribed != 1 || c2.Warning != "" {
		t.Fatalf("second send %+v", c2)
	}
	// Two complaints in 997 deliveries (0.2%) are under the limit.
	db.Exec(`DELETE FROM email_feedback WHERE ref IN ('test:c12', 'test:c13')`)
	if c, _ = bounces.SendCounts(ctx, db, first, 1000); c.Complained != 2 || c.Warning != "" {
		t.Fatalf("at 0.2%%: %+v", c)
	}
}

func itoaT(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoaT(i/10) + string(rune('0'+i%10))
}

// ledgerTables makes the send-ledger columns the processor and the counts
// read (channels/email owns them).
func ledgerTables(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS email_sends (id TEXT PRIMARY KEY, created_at TIMESTAMP NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS email_recipients (send_id TEXT NOT NULL, subscriber_id INTEGER NOT NULL, state TEXT NOT NULL, sent_at TIMESTAMP, PRIMARY KEY (send_id, subscriber_id))`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}
