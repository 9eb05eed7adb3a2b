package subscribers

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzCheckToken: no input panics, and only the exact token made for a
// subscriber passes.
func FuzzCheckToken(f *testing.F) {
	s := NewSigner([]byte("fuzz key fuzz key fuzz key fuzz!"))
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sub := Subscriber{ID: 42, Email: "ann@example.org"}
	good := s.Token(PurposeUnsubscribe, sub, time.Time{})
	for _, seed := range []string{good, s.Token(PurposeConfirm, sub, now.Add(time.Hour)), "", "u.42.0.", "u.-1.0.AAAA", "c.42.99999999999999999999.x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, perr := s.Parse(tok, PurposeUnsubscribe)
		err := s.Check(tok, PurposeUnsubscribe, sub, now)
		if err == nil && tok != good {
			t.Fatalf("token %q accepted but differs from the one issued %q", tok, good)
		}
		if err == nil && (perr != nil || id != sub.ID) {
			t.Fatalf("Check passed but Parse gave %d, %v", id, perr)
		}
	})
}

// FuzzImport: any file gives a report or an error, never a panic, and a dry
// run never writes.
func FuzzImport(f *testing.F) {
	for _, seed := range []string{
		"email,name\nann@example.org,Ann\n",
		"email,name,lists,consent_at,status\na@b.org,\"A\nB\",x;y,2024-01-01,confirmed\n",
		"\ufeffEMAIL\n'=x@y.org\n",
		"email\n\"unterminated\n",
		"name\nx\n",
	} {
		f.Add(seed)
	}
	s, _ := openTest(f)
	f.Fuzz(func(t *testing.T, in string) {
		rep, err := s.Import(context.Background(), strings.NewReader(in), ImportOptions{Source: "import:fuzz", DryRun: true})
		if err != nil {
			return
		}
		if rep.Added+rep.Existing+len(rep.Rejected) > rep.Rows {
			t.Fatalf("report counts more outcomes than rows: %+v", rep)
		}
		counts, err := s.CountByStatus(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for st, n := range counts {
			if n != 0 {
				t.Fatalf("dry run wrote %d %s rows", n, st)
			}
		}
	})
}
