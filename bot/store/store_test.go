package store

import (
	"context"
	"errors"
	"fmt"
	"github.com/crierhq/crier/migrate"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crier.db")
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

func TestMigrateIsIdempotentAndOrdered(t *testing.T) {
	st, path := openTemp(t)
	ctx := context.Background()
	steps := []string{`CREATE TABLE a (x INTEGER)`, `ALTER TABLE a ADD COLUMN y TEXT`}
	for range 2 {
		if err := migrate.Up(ctx, st.DB(), "test", steps); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st2, err := Open(ctx, path) // reopening runs the store's own steps again: no-op
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := migrate.Up(ctx, st2.DB(), "test", append(steps, `ALTER TABLE a ADD COLUMN z TEXT`)); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.DB().Exec(`INSERT INTO a (x, y, z) VALUES (1, 'b', 'c')`); err != nil {
		t.Fatalf("migrations not applied in order: %v", err)
	}
	err = migrate.Up(ctx, st2.DB(), "broken", []string{`CREATE TABLE`})
	if err == nil || !strings.Contains(err.Error(), "migrating broken to version 1") {
		t.Fatalf("a bad step must name the component and version: %v", err)
	}
}

func TestLedgerLifecycle(t *testing.T) {
	st, _ := openTemp(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	p := post.Post{ID: "md:x", Title: "X", Source: post.Source{Kind: "markdown"}}
	tx, _ := st.DB().BeginTx(ctx, nil)
	if err := SavePostTx(ctx, tx, p, PostPublished, now); err != nil {
		t.Fatal(err)
	}
	if need, err := AddDelivery(ctx, tx, p.ID, "mastodon", false, now); err != nil || !need {
		t.Fatalf("new delivery: %v %v", need, err)
	}
	if need, _ := AddDelivery(ctx, tx, p.ID, "mastodon", false, now); !need {
		t.Fatal("an unsent delivery should still need a job")
	}
	tx.Commit()

	before, err := st.StartAttempt(ctx, p.ID, "mastodon", now)
	if err != nil || before.State != DeliveryPending {
		t.Fatalf("start: %+v %v", before, err)
	}
	l := st.Ledger(p.ID, "mastodon", func() time.Time { return now })
	for i, id := range []string{"1001", "1002"} {
		if err := l.SavePart(ctx, channels.Part{Index: i, RemoteID: id, RemoteURL: "https://social.example/@camaca/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ := l.Parts(ctx)
	if len(parts) != 2 || parts[1].RemoteID != "1002" {
		t.Fatalf("parts %+v", parts)
	}
	d, _ := st.Delivery(ctx, p.ID, "mastodon")
	if d.State != DeliverySending || d.RemoteID != "1001" || d.Attempts != 1 {
		t.Fatalf("the first part's id must be on the delivery as soon as known: %+v", d)
	}
	if err := st.FinishAttempt(ctx, p.ID, "mastodon", DeliverySent, channels.Receipt{}, "", false, now); err != nil {
		t.Fatal(err)
	}
	d, _ = st.Delivery(ctx, p.ID, "mastodon")
	if d.State != DeliverySent || d.RemoteURL == "" {
		t.Fatalf("a receipt without ids must keep the recorded ones: %+v", d)
	}
	tx, _ = st.DB().BeginTx(ctx, nil)
	if need, _ := AddDelivery(ctx, tx, p.ID, "mastodon", false, now); need {
		t.Fatal("a sent delivery must never be queued again")
	}
	tx.Rollback()
	if _, err := st.Delivery(ctx, "md:nope", "mastodon"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// TestConcurrentOpenWaitsInsteadOfFailing: `crier status` started while the
// daemon creates the database must wait for it, not fail with SQLITE_BUSY.
func TestConcurrentOpenWaitsInsteadOfFailing(t *testing.T) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("crier-%d.db", round))
		errs := make(chan error, 6)
		for range 6 {
			go func() {
				st, err := Open(context.Background(), path)
				if err == nil {
					err = migrate.Up(context.Background(), st.DB(), "extra", []string{`CREATE TABLE extra (x INTEGER)`})
					st.Close()
				}
				errs <- err
			}()
		}
		for range 6 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
