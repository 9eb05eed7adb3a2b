package subscribers

import (
	"context"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
)

// BenchmarkSupporterSearch measures the supporters search on a list of
// CRIER_SEARCH_BENCH supporters (default 100,000; docs/BENCHMARKS.md uses
// 1,000,000) on SQLite and PostgreSQL, side by side: "scan" is the search
// before its trigram index (the LIKE scan in address order it still falls
// back to), "indexed" is Search. Each reports its p50 and p95. Run:
//
//	CRIER_SEARCH_BENCH=1000000 go test ./subscribers -run '^$' -bench SupporterSearch -benchtime 20x -timeout 60m
func BenchmarkSupporterSearch(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("CRIER_SEARCH_BENCH")); err == nil && v > 0 {
		n = v
	}
	for _, driver := range []string{"sqlite", "postgres"} {
		if driver == "postgres" && !pgpeer.Available() {
			continue
		}
		b.Run(driver, func(b *testing.B) {
			s, _ := openTest(b, driver)
			start := time.Now()
			fillSupporters(b, s, n)
			b.Logf("%s: %d supporters added and indexed in %s", driver, n, time.Since(start).Round(time.Second))
			like := sqldb.DialectOf(s.db).Pick("LIKE", "ILIKE")
			scan := func(ctx context.Context, q string, limit int) ([]int64, error) {
				return queryIDs(ctx, s.db, `SELECT id FROM subscribers WHERE email LIKE $1 `+sqldb.LikeEscape+
					` OR name `+like+` $1 `+sqldb.LikeEscape+` ORDER BY email LIMIT $2`, sqldb.Contains(q), limit)
			}
			queries := []struct{ name, q string }{
				{"address", "supporter" + strconv.Itoa(n/2+345) + "@"}, // one supporter
				{"name", "porter " + strconv.Itoa(n/2+345)},            // a few (the number, then digits after it)
				{"digits", strconv.Itoa(n/2 + 345)},                    // a few, by fragments rarer than "supporter"
				{"common", "example.org"},                              // everyone
			}
			ctx := context.Background()
			// Before: PostgreSQL's planner would use the trigram index for
			// the old query too, so it goes while the scan is measured.
			if driver == "postgres" {
				if _, err := s.db.ExecContext(ctx, `DROP INDEX subscribers_search`); err != nil {
					b.Fatal(err)
				}
			}
			for _, q := range queries {
				timeSearch(b, q.name+"/scan", func() error { _, err := scan(ctx, q.q, 50); return err })
			}
			if driver == "postgres" {
				start := time.Now()
				if err := trigramIndex(ctx, s.db); err != nil {
					b.Fatal(err)
				}
				b.Logf("postgres: the trigram index made in %s", time.Since(start).Round(time.Second))
			}
			for _, q := range queries {
				timeSearch(b, q.name+"/indexed", func() error { _, err := s.searchIDs(ctx, q.q, 50); return err })
			}
		})
	}
}

// timeSearch runs search as sub-benchmark name, reporting its p50 and p95.
func timeSearch(b *testing.B, name string, search func() error) {
	b.Run(name, func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			t0 := time.Now()
			if err := search(); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(t0))
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
	})
}

// fillSupporters adds n supporters in one statement (the triggers and the
// index follow, as they would for an import).
func fillSupporters(b *testing.B, s *Store, n int) {
	ctx := context.Background()
	q := `WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < $1 - 1)
		INSERT INTO subscribers (email, name, status, consent_at, consent_source, created_at, updated_at)
		SELECT 'supporter' || i || '@example.org', 'Supporter ' || i, 'confirmed', $2, 'import', $2, $2 FROM seq`
	if sqldb.DialectOf(s.db) == sqldb.Postgres {
		q = `INSERT INTO subscribers (email, name, status, consent_at, consent_source, created_at, updated_at)
			SELECT 'supporter' || i || '@example.org', 'Supporter ' || i, 'confirmed', $2, 'import', $2, $2 FROM generate_series(0, $1::int - 1) AS i`
	}
	if _, err := s.db.ExecContext(ctx, q, n, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
}
