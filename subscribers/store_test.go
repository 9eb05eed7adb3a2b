package subscribers

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// testClock is a settable clock for tests.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// openTest opens a fresh store on driver (SQLite when none is named).
func openTest(t testing.TB, driver ...string) (*Store, *testClock) {
	t.Helper()
	ctx := context.Background()
	d := "sqlite"
	if len(driver) > 0 {
		d = driver[0]
	}
	st, err := store.OpenDriver(ctx, d, pgpeer.Target(t, d))
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

func TestStoreLifecycle(t *testing.T) { pgpeer.EachDriver(t, testStoreLifecycle) }

func testStoreLifecycle(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
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

func TestClaimConfirmationMail(t *testing.T) { pgpeer.EachDriver(t, testClaimConfirmationMail) }

func testClaimConfirmationMail(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
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

func TestConfirmPendingRequests(t *testing.T) { pgpeer.EachDriver(t, testConfirmPendingRequests) }

func testConfirmPendingRequests(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
	orig := clock.Now()
	ann, _ := s.Add(ctx, Subscriber{Email: "ann@example.org", Name: "Ann", Status: Confirmed, ConsentAt: orig, ConsentSource: "import:a.csv", ConsentIP: "192.0.2.1"})
	oldLink := clock.Now()
	clock.Advance(time.Hour)
	if err := s.SetStatus(ctx, ann.ID, Unsubscribed, "one-click"); err != nil {
		t.Fatal(err)
	}
	// No request pending: no link confirms, old or new.
	for _, issued := range []time.Time{oldLink, clock.Now().Add(time.Minute)} {
		if ok, err := s.Confirm(ctx, ann.ID, Confirmation{LinkIssued: issued}); ok || err != nil {
			t.Fatalf("confirm without a request (link of %v): %v %v", issued, ok, err)
		}
	}
	clock.Advance(time.Hour)
	req := Pending{Name: "Ann B", At: clock.Now(), Source: "form:/subscribe", IP: "203.0.113.5"}
	if err := s.SetPending(ctx, ann.ID, req); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, ann.ID); got.Status != Unsubscribed || got.Name != "Ann" || got.ConsentIP != "192.0.2.1" {
		t.Fatalf("SetPending changed the record: %+v", got)
	}
	if ok, _ := s.Confirm(ctx, ann.ID, Confirmation{LinkIssued: oldLink}); ok {
		t.Fatal("a link from before the unsubscribe confirmed the new request")
	}
	// A new request from the owner replaces the pending one; an unsubscribe
	// drops it.
	if ok, err := s.Confirm(ctx, ann.ID, Confirmation{LinkIssued: clock.Now(), IP: "203.0.113.6"}); !ok || err != nil {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	got, _ := s.Get(ctx, ann.ID)
	if got.Status != Confirmed || got.Name != "Ann B" || got.ConsentIP != "203.0.113.5" || !got.ConsentAt.Equal(req.At) {
		t.Fatalf("after confirm: %+v", got)
	}
	hist, _ := s.History(ctx, ann.ID)
	if len(hist) != 4 || hist[0].IP != "192.0.2.1" || !hist[0].At.Equal(orig) || hist[1].Event != "unsubscribed" || hist[2].IP != "203.0.113.5" || hist[3].IP != "203.0.113.6" {
		t.Fatalf("history %+v", hist)
	}
	clock.Advance(time.Hour)
	s.SetPending(ctx, ann.ID, Pending{Name: "Mallory", At: clock.Now(), IP: "198.51.100.9"}) // confirmed: ignored
	s.SetStatus(ctx, ann.ID, Bounced, "550 mailbox unknown")
	clock.Advance(time.Hour)
	if ok, _ := s.Confirm(ctx, ann.ID, Confirmation{LinkIssued: clock.Now()}); ok {
		t.Fatal("a request made while confirmed was kept and confirmed after a bounce")
	}
}

func TestAddPendingKeepsSuppression(t *testing.T) {
	pgpeer.EachDriver(t, testAddPendingKeepsSuppression)
}

func testAddPendingKeepsSuppression(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
	s.Add(ctx, Subscriber{Email: "ann@example.org", Name: "Ann", Status: Confirmed, ConsentAt: clock.Now()})
	if err := s.Delete(ctx, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	var events int
	s.db.QueryRow(`SELECT COUNT(*) FROM consent_events`).Scan(&events)
	if events != 0 {
		t.Fatalf("erasure left %d history events", events)
	}
	req := Pending{Name: "Ann", At: clock.Now(), Source: "form:/subscribe", IP: "192.0.2.9"}
	sub, added, err := s.AddPending(ctx, "Ann@example.org", req)
	if err != nil || !added || sub.Status != Unconfirmed || sub.Name != "" || sub.ConsentIP != "" {
		t.Fatalf("AddPending: %+v %v %v", sub, added, err)
	}
	if again, added, err := s.AddPending(ctx, "ann@example.org", req); err != nil || added || again.ID != sub.ID {
		t.Fatalf("AddPending again: %+v %v %v", again, added, err)
	}
	if sup, _ := s.IsSuppressed(ctx, "ann@example.org"); !sup {
		t.Fatal("AddPending lifted the suppression")
	}
	// Never confirmed: purged once the link has expired, suppression kept.
	if n, err := s.PurgeUnconfirmed(ctx, clock.Now()); n != 0 || err != nil {
		t.Fatalf("purge of a fresh request: %d %v", n, err)
	}
	clock.Advance(ConfirmTTL + time.Second)
	if n, err := s.PurgeUnconfirmed(ctx, clock.Now().Add(-ConfirmTTL)); n != 1 || err != nil {
		t.Fatalf("purge: %d %v", n, err)
	}
	if sup, _ := s.IsSuppressed(ctx, "ann@example.org"); !sup {
		t.Fatal("the purge lifted the suppression")
	}
	// Asked again and confirmed: the suppression goes, the request becomes
	// the record.
	sub, _, _ = s.AddPending(ctx, "ann@example.org", Pending{Name: "Ann", At: clock.Now(), Source: "form:/subscribe", IP: "192.0.2.10"})
	if ok, err := s.Confirm(ctx, sub.ID, Confirmation{LinkIssued: clock.Now()}); !ok || err != nil {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	if sup, _ := s.IsSuppressed(ctx, "ann@example.org"); sup {
		t.Fatal("suppression kept after confirming")
	}
	if got, _ := s.Get(ctx, sub.ID); got.Name != "Ann" || got.ConsentIP != "192.0.2.10" || got.Status != Confirmed {
		t.Fatalf("after confirm: %+v", got)
	}
}

func TestPurgeUnconfirmed(t *testing.T) { pgpeer.EachDriver(t, testPurgeUnconfirmed) }

func testPurgeUnconfirmed(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
	form := func(e string) Subscriber {
		sub, err := s.Add(ctx, Subscriber{Email: e, ConsentAt: clock.Now(), ConsentSource: "form:/subscribe", ConsentIP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		return sub
	}
	old := form("old@example.org")
	form("confirmed@example.org")
	c, _ := s.GetByEmail(ctx, "confirmed@example.org")
	s.Confirm(ctx, c.ID, Confirmation{})
	s.Add(ctx, Subscriber{Email: "imported@example.org", ConsentSource: "import:x.csv"})
	renewed := form("renewed@example.org")
	clock.Advance(5 * 24 * time.Hour)
	s.SetPending(ctx, renewed.ID, Pending{At: clock.Now(), Source: "form:/subscribe"})
	clock.Advance(3 * 24 * time.Hour)
	form("recent@example.org")
	n, err := s.PurgeUnconfirmed(ctx, clock.Now().Add(-ConfirmTTL))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, err := s.Get(ctx, old.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old sign-up: %v", err)
	}
	for _, e := range []string{"confirmed@example.org", "imported@example.org", "renewed@example.org", "recent@example.org"} {
		if _, err := s.GetByEmail(ctx, e); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	var events int
	s.db.QueryRow(`SELECT COUNT(*) FROM consent_events WHERE subscriber_id = $1`, old.ID).Scan(&events)
	if events != 0 {
		t.Fatalf("the purge left %d history events", events)
	}
}

func TestSetPreferences(t *testing.T) { pgpeer.EachDriver(t, testSetPreferences) }

func testSetPreferences(t *testing.T, driver string) {
	ctx := context.Background()
	s, clock := openTest(t, driver)
	ann, err := s.Add(ctx, Subscriber{Email: "ann@example.org", Status: Confirmed, ConsentAt: clock.Now(), ConsentSource: "form:/subscribe"})
	if err != nil {
		t.Fatal(err)
	}
	if ann.Preference != EveryPost {
		t.Fatalf("default preference %q", ann.Preference)
	}
	clock.Advance(time.Minute)
	changed, err := s.SetPreferences(ctx, ann.ID, Preferences{Preference: Digest, Lists: []string{"reports", "Events"}, Language: "de"}, "preferences page", "192.0.2.7")
	if err != nil || !changed {
		t.Fatalf("SetPreferences = %v, %v", changed, err)
	}
	got, _ := s.Get(ctx, ann.ID)
	if got.Preference != Digest || got.Language != "de" || strings.Join(got.Lists, ",") != "events,reports" {
		t.Fatalf("stored %+v", got)
	}
	// The same choice again changes nothing and records nothing.
	if changed, err := s.SetPreferences(ctx, ann.ID, Preferences{Preference: Digest, Lists: []string{"events", "reports"}, Language: "de"}, "preferences page", ""); err != nil || changed {
		t.Fatalf("unchanged SetPreferences = %v, %v", changed, err)
	}
	h, _ := s.History(ctx, ann.ID)
	if len(h) != 2 || h[1].Event != EventPreferences || h[1].Source != "preferences page: digest / topics events, reports / language de" || h[1].IP != "192.0.2.7" {
		t.Fatalf("history %+v", h)
	}
	// Bad choices are refused and change nothing.
	for _, p := range []Preferences{{Preference: "weekly"}, {Lists: []string{"<script>"}}, {Language: "fr\nBcc: x"}} {
		if _, err := s.SetPreferences(ctx, ann.ID, p, "preferences page", ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", p, err)
		}
	}
	if _, err := s.SetPreferences(ctx, 9999, Preferences{}, "x", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if again, _ := s.Get(ctx, ann.ID); again.Preference != Digest || len(again.Lists) != 2 {
		t.Fatalf("a refused change changed %+v", again)
	}
}
