package subscribers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

func TestSearchAnyPartOfAddressOrName(t *testing.T) { pgpeer.EachDriver(t, testSearch) }

func testSearch(t *testing.T, driver string) {
	ctx := context.Background()
	s, _ := openTest(t, driver)
	for _, sub := range []Subscriber{{Email: "sam.okafor@example.org", Name: "Sam Okafor"}, {Email: "x_y@example.net", Name: "100% Ally"},
		{Email: "xzy@example.net", Name: "Zoë"}} {
		if _, err := s.Add(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]string{"OKAFOR": "sam.okafor@example.org", "sam okafor": "sam.okafor@example.org",
		"x_y": "x_y@example.net", "100%": "x_y@example.net", "%": "x_y@example.net", "zoë": "xzy@example.net", "nobody": ""} {
		got, err := s.Search(ctx, q, 50)
		if err != nil {
			t.Fatalf("q=%q: %v", q, err)
		}
		if want == "" && len(got) == 0 {
			continue
		}
		if len(got) != 1 || got[0].Email != want {
			t.Errorf("q=%q found %v, want only %s", q, got, want)
		}
	}
	if got, _ := s.Search(ctx, "example", 2); len(got) != 2 || got[0].Email != "sam.okafor@example.org" {
		t.Errorf("limit 2, by address: %v", got)
	}
}

// TestSearchHasATrigramIndex: the search by any part has an index on both
// databases (FTS5 trigram on SQLite, pg_trgm on PostgreSQL) that follows
// changes and erasures, so that it stays fast on a million supporters
// (docs/BENCHMARKS.md).
func TestSearchHasATrigramIndex(t *testing.T) { pgpeer.EachDriver(t, testSearchIndex) }

func testSearchIndex(t *testing.T, driver string) {
	ctx := context.Background()
	s, _ := openTest(t, driver)
	if ok, err := s.SearchIndexed(ctx); err != nil || !ok {
		t.Fatalf("no trigram index: %v %v", ok, err)
	}
	for i := range 20 {
		if _, err := s.Add(ctx, Subscriber{Email: fmt.Sprintf("supporter%d@example.org", i), Name: fmt.Sprintf("Supporter %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(ctx, Subscriber{Email: "ada.lovelace@example.org", Name: "Ada Müller Jqxw"}); err != nil {
		t.Fatal(err)
	}
	find := func(q string) string {
		t.Helper()
		got, err := s.Search(ctx, q, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range got {
			out = append(out, g.Email)
		}
		return strings.Join(out, " ")
	}
	if got := find("MÜLLER"); got != "ada.lovelace@example.org" {
		t.Errorf("MÜLLER: %q", got)
	}
	if got := find("porter1"); got != "supporter10@example.org supporter11@example.org supporter12@example.org supporter13@example.org supporter14@example.org supporter15@example.org supporter16@example.org supporter17@example.org supporter18@example.org supporter19@example.org supporter1@example.org" {
		t.Errorf("porter1, by address: %q", got)
	}
	// The index's pages hold the address's trigrams until the erasure
	// merges them away: "jqx" begins no other term, so prefix compression
	// leaves it whole on the page.
	inIndex := func() int {
		var n int
		if driver == "sqlite" {
			if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM subscribers_search_data WHERE instr(block, CAST('jqx' AS BLOB)) > 0`).Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		return n
	}
	if driver == "sqlite" && inIndex() == 0 {
		t.Fatal("the trigram index does not hold the address's fragments: the check below proves nothing")
	}
	if _, err := s.Erase(ctx, "ada.lovelace@example.org"); err != nil {
		t.Fatal(err)
	}
	if got := find("lovelace"); got != "" {
		t.Errorf("found after the erasure: %q", got)
	}
	if n := inIndex(); n != 0 {
		t.Errorf("%d pages of the search index still hold fragments of the erased address", n)
	}
	if driver == "postgres" {
		// With sequential scans priced out, the planner reaches for the index.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.ExecContext(ctx, `SET enable_seqscan = off`)
		rows, err := conn.QueryContext(ctx, `EXPLAIN SELECT id FROM subscribers WHERE email LIKE '%porter1%' OR name ILIKE '%porter1%' LIMIT 1001`)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var l string
			rows.Scan(&l)
			plan = append(plan, l)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "\n"), "subscribers_search") {
			t.Errorf("the search does not use the trigram index:\n%s", strings.Join(plan, "\n"))
		}
	}
}
