package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/migrate"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/sqldb"
)

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// open opens the store of driver at target for the test.
func open(t *testing.T, driver, target string) *Store {
	t.Helper()
	st, err := OpenDriver(context.Background(), driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestMigrateIsIdempotentAndOrdered(t *testing.T) {
	pgpeer.Each(t, testMigrateIsIdempotentAndOrdered)
}

func testMigrateIsIdempotentAndOrdered(t *testing.T, driver, target string) {
	st := open(t, driver, target)
	ctx := context.Background()
	steps := []string{`CREATE TABLE a (x INTEGER)`, `ALTER TABLE a ADD COLUMN y TEXT`}
	for range 2 {
		if err := migrate.Up(ctx, st.DB(), "test", steps); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st2, err := OpenDriver(ctx, driver, target) // reopening runs the store's own steps again: no-op
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

func TestLedgerLifecycle(t *testing.T) { pgpeer.Each(t, testLedgerLifecycle) }

func testLedgerLifecycle(t *testing.T, driver, target string) {
	st := open(t, driver, target)
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
	if err := st.FinishAttempt(ctx, p.ID, "mastodon", DeliverySent, channels.Receipt{}, "", "", false, now); err != nil {
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
// On PostgreSQL, six replicas starting at once on an empty database must
// not both apply a step.
func TestConcurrentOpenWaitsInsteadOfFailing(t *testing.T) {
	pgpeer.Each(t, testConcurrentOpen)
}

func testConcurrentOpen(t *testing.T, driver, target string) {
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("crier-%d.db", round))
		if driver == "postgres" {
			path = pgpeer.DSN(t)
		}
		errs := make(chan error, 6)
		for range 6 {
			go func() {
				st, err := OpenDriver(context.Background(), driver, path)
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

func TestErrorKindsOfEarlierFailuresAreBackfilled(t *testing.T) {
	pgpeer.Each(t, testErrorKindsOfEarlierFailuresAreBackfilled)
}

// A ledger from before error_kind takes each failure's class from the
// engine's own prefix of last_error.
func testErrorKindsOfEarlierFailuresAreBackfilled(t *testing.T, driver, target string) {
	ctx := context.Background()
	db, _, err := sqldb.OpenPool(ctx, driver, target)
	if err != nil {
		t.Fatal(err)
	}
	step := slices.IndexFunc(schema, func(s string) bool { return strings.Contains(s, "ADD COLUMN error_kind") })
	if err := migrate.Up(ctx, db, "store", schema[:step]); err != nil {
		t.Fatal(err)
	}
	rows := map[string]struct{ state, lastErr, want string }{
		"a": {"failed", "permanent: 401 the access token was revoked", "permanent"},
		"b": {"failed", "gave up after 8 attempts: temporary: 503 rate of errors too high", "temporary"},
		"c": {"unknown", "ambiguous: reset after write", "ambiguous"},
		"d": {"pending", "rate-limited: 429", "rate-limited"},
		"e": {"sent", "", ""},
	}
	now := time.Now().UTC()
	for id, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO posts (id, source_kind, source_name, source_key, hash, title, publish_at, data, state, created_at, updated_at)
			VALUES ($1, 'md', 'posts', $1, '', '', $2, '{}', 'published', $2, $2)`, id, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, last_error, created_at, updated_at) VALUES ($1, 'mastodon', $2, $3, $4, $4)`,
			id, r.state, r.lastErr, now); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	st := open(t, driver, target)
	for id, r := range rows {
		if d, err := st.Delivery(ctx, id, "mastodon"); err != nil || d.ErrorKind != r.want {
			t.Errorf("%s (%q): kind %q, want %q (%v)", id, r.lastErr, d.ErrorKind, r.want, err)
		}
	}
}
