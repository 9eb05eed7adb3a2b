package newsletter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
	"github.com/crierhq/crier/subscribers"
)

// TestSendsAnswersBounces: what the bounce processor asks of the ledger
// (bounces.Sends) is answered from real sends: the send a signed return
// path's hash names, and the last newsletter a supporter was sent before
// a report, on both databases and on one where nothing was ever sent.
func TestSendsAnswersBounces(t *testing.T) { pgpeer.EachDriver(t, testSendsAnswersBounces) }

func testSendsAnswersBounces(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	clk := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil, WithClock(clk.now))
	sends := NewSends(fx.db)
	anna := fx.add(t, "anna@example.org", "Anna", subscribers.Confirmed)
	if id, err := sends.LastSentTo(ctx, anna.ID, clk.now()); err != nil || id != "" {
		t.Fatalf("before any send: %q, %v", id, err)
	}
	first, second := samplePost(), samplePost()
	second.ID, second.Title = "md:march", "March on Sunday"
	if _, err := fx.send(t, first); err != nil {
		t.Fatal(err)
	}
	between := clk.now().Add(time.Minute)
	clk.advance(time.Hour)
	if _, err := fx.send(t, second); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"post:md:vigil", "post:md:march"} {
		if got, err := sends.ByHash(ctx, bounces.SendHash(id)); err != nil || got != id {
			t.Fatalf("by the hash of %s: %q, %v", id, got, err)
		}
	}
	if got, err := sends.ByHash(ctx, bounces.SendHash("post:md:never")); err != nil || got != "" {
		t.Fatalf("a hash of no send: %q, %v", got, err)
	}
	if got, err := sends.LastSentTo(ctx, anna.ID, between); err != nil || got != "post:md:vigil" {
		t.Fatalf("last send before the second: %q, %v", got, err)
	}
	if got, err := sends.LastSentTo(ctx, anna.ID, clk.now()); err != nil || got != "post:md:march" {
		t.Fatalf("last send: %q, %v", got, err)
	}
}

// TestSendsWithoutALedger: on a database where the newsletter never ran
// (no ledger tables), both questions answer "no send" on both databases,
// rather than an error on PostgreSQL, whose missing-table error reads
// differently from SQLite's.
func TestSendsWithoutALedger(t *testing.T) {
	pgpeer.EachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, driver, pgpeer.Target(t, driver))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		sends := NewSends(db)
		if id, err := sends.LastSentTo(ctx, 1, time.Now()); err != nil || id != "" {
			t.Errorf("last sent to, with no ledger: %q, %v", id, err)
		}
		if id, err := sends.ByHash(ctx, bounces.SendHash("post:md:vigil")); err != nil || id != "" {
			t.Errorf("by hash, with no ledger: %q, %v", id, err)
		}
	})
}

// TestSendProgressOfAnOldSend: the console's post page asks for the send of
// its post by ref, and gets it even when twenty newer sends came after it
// (the newest-20 list crier status shows leaves it out).
func TestSendProgressOfAnOldSend(t *testing.T) {
	pgpeer.EachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, driver, pgpeer.Target(t, driver))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := subscribers.Prepare(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := PrepareLedger(ctx, db); err != nil {
			t.Fatal(err)
		}
		start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
		for i := range 22 {
			at := start.Add(time.Duration(i) * 24 * time.Hour)
			if _, err := db.ExecContext(ctx, `INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at, finished_at)
				VALUES ($1, 'post', $2, 'News', $3, 0, $4, $4, $4)`, fmt.Sprintf("post:md:%02d", i), fmt.Sprintf("md:%02d", i), sendDone, at); err != nil {
				t.Fatal(err)
			}
		}
		newest, err := SendProgress(ctx, db)
		if err != nil || len(newest) != 20 || newest[19].Ref != "md:02" {
			t.Fatalf("the newest sends: %d, %v", len(newest), err)
		}
		old, err := SendProgressOf(ctx, db, "md:00")
		if err != nil || len(old) != 1 || old[0].SendID != "post:md:00" {
			t.Fatalf("the oldest send by its ref: %+v, %v", old, err)
		}
	})
}
