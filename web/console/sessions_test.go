package console

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestSessionAbsoluteLifetime: a session used every few hours still ends
// SessionMaxAge after sign-in.
func TestSessionAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t).signedIn("author@example.org")
	start := b.now.Now()
	for b.now.Now().Sub(start) < SessionMaxAge-4*time.Hour {
		b.now.Add(4 * time.Hour)
		if p := br.get("/posts"); p.status != 200 {
			t.Fatalf("a session used every 4 hours ended after %s: %d", b.now.Now().Sub(start), p.status)
		}
	}
	b.now.Add(4 * time.Hour)
	if p := br.get("/posts"); p.status != http.StatusSeeOther {
		t.Fatalf("a session in use %s after sign-in: %d, want the sign-in page", b.now.Now().Sub(start), p.status)
	}
	// Its renewal never reached past the absolute end.
	if n := sessionRows(t, b); n != 0 {
		t.Fatalf("%d session rows left", n)
	}
}

// TestEndedSessionsAreDeleted: sessions nobody uses again are deleted by the
// sweep, idle ones and ones past their absolute end; live ones stay.
func TestEndedSessionsAreDeleted(t *testing.T) { postgres.EachDriver(t, testEndedSessionsAreDeleted) }

func testEndedSessionsAreDeleted(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	for _, email := range []string{"author@example.org", "editor@example.org"} {
		b.browser(t).signedIn(email)
	}
	b.now.Add(SessionTTL + time.Minute)
	live := b.browser(t).signedIn("owner@example.org")
	if n := sessionRows(t, b); n != 3 {
		t.Fatalf("%d session rows, want 3", n)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.users.SweepSessions(ctx, time.Millisecond, slog.New(slog.DiscardHandler)) }()
	waitUntil(t, "the idle sessions are deleted", func() bool { return sessionRows(t, b) == 1 })
	if p := live.get("/posts"); p.status != 200 {
		t.Fatalf("the live session was swept: %d", p.status)
	}
	cancel()
	<-done
}

func sessionRows(t *testing.T, b *bundle) int {
	t.Helper()
	var n int
	if err := b.st.DB().QueryRow(`SELECT COUNT(*) FROM console_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitUntil polls cond until it holds, failing after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testnet.WaitFor(t, what, 10*time.Second, cond)
}
