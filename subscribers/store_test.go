package subscribers

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
)

// testClock is a settable clock for tests.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func openTest(t testing.TB) (*Store, *testClock) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	return s.WithClock(clock.Now), clock
}

func TestStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clock := openTest(t)
	a, err := s.Add(ctx, Subscriber{Email: " Ann@Example.ORG ", Name: "Ann", Lists: []string{"News", "news", "events"},
		ConsentAt: clock.Now(), ConsentSource: "form:/subscribe", ConsentIP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "ann@example.org" || a.Status != Unconfirmed || a.ID == 0 || len(a.Lists) != 2 {
		t.Fatalf("added %+v", a)
	}
	if _, err := s.Add(ctx, Subscriber{Email: "ANN@example.org"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: got %v, want ErrExists", err)
	}
	if _, err := s.Add(ctx, Subscriber{Email: "bob@example.org", Name: "Bob\r\nBcc: x@y.z"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("header injection in name: got %v, want ErrInvalid", err)
	}
	got, err := s.GetByEmail(ctx, "ann@EXAMPLE.org")
	if err != nil || got.ID != a.ID || got.ConsentIP != "192.0.2.1" || !got.ConsentAt.Equal(clock.Now()) || got.Lists[1] != "events" {
		t.Fatalf("GetByEmail: %+v, %v", got, err)
	}
	if ok, err := s.Confirm(ctx, a.ID, Confirmation{}); !ok || err != nil {
		t.Fatalf("Confirm: %v %v", ok, err)
	}
	if ok, _ := s.Confirm(ctx, a.ID, Confirmation{}); ok {
		t.Fatal("confirming twice changed the status again")
	}
	for i := range 5 {
		sub, err := s.Add(ctx, Subscriber{Email: string(rune('a'+i)) + "@x.org", Status: Confirmed})
		if err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := s.SetStatus(ctx, sub.ID, Unsubscribed, "one-click"); err != nil {
				t.Fatal(err)
			}
		}
	}
	page1, err := s.ListConfirmed(ctx, 0, 3)
	if err != nil || len(page1) != 3 || page1[0].ID != a.ID {
		t.Fatalf("page 1: %v %v", page1, err)
	}
	page2, _ := s.ListConfirmed(ctx, page1[2].ID, 3)
	if len(page2) != 2 {
		t.Fatalf("page 2 has %d, want 2", len(page2))
	}
	counts, _ := s.CountByStatus(ctx)
	if counts[Confirmed] != 5 || counts[Unsubscribed] != 1 || counts[Bounced] != 0 {
		t.Fatalf("counts %v", counts)
	}

	// Erasure removes the row, keeps a suppression and never reuses the id.
	if err := s.Delete(ctx, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := s.Add(ctx, Subscriber{Email: "ann@example.org", ConsentSource: "import:old.csv"}); !errors.Is(err, ErrSuppressed) {
		t.Fatalf("re-adding an erased address: %v, want ErrSuppressed", err)
	}
	if err := s.Unsuppress(ctx, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	again, err := s.Add(ctx, Subscriber{Email: "ann@example.org"})
	if err != nil || again.ID <= page2[1].ID {
		t.Fatalf("re-added after unsuppress: %+v %v (ids must not be reused)", again, err)
	}
	var rows int
	s.db.QueryRow(`SELECT COUNT(*) FROM subscribers WHERE name = 'Ann'`).Scan(&rows)
	if rows != 0 {
		t.Fatal("erased name still stored")
	}
	if err := s.Delete(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting a stranger: %v", err)
	}
}

func TestClaimConfirmationMail(t *testing.T) {
	ctx := context.Background()
	s, clock := openTest(t)
	sub, _ := s.Add(ctx, Subscriber{Email: "ann@example.org"})
	claim := func() bool {
		ok, err := s.ClaimConfirmationMail(ctx, sub.ID, clock.Now(), 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim() {
		t.Fatal("first claim refused")
	}
	clock.Advance(9 * time.Minute)
	if claim() {
		t.Fatal("second claim within 10 minutes granted")
	}
	clock.Advance(time.Minute)
	if !claim() {
		t.Fatal("claim after 10 minutes refused")
	}
	if err := s.ReleaseConfirmationMail(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if !claim() {
		t.Fatal("claim after release refused")
	}
}
