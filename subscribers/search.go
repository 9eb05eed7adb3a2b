package subscribers

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/sqldb"
)

// Search returns up to limit subscribers whose address or name contains q
// (case-insensitively), by address. q's LIKE wildcards match only
// themselves. A fragment of three or more characters is looked up in the
// trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL) and costs what its
// matches cost; a shorter one, or one so common that the index would hand
// back more than searchCap supporters, scans the subscribers_email_name
// index in address order, where matches come early. Errors never name q,
// which may be an address.
func (s *Store) Search(ctx context.Context, q string, limit int) ([]Subscriber, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" || limit <= 0 {
		return nil, nil
	}
	ids, err := s.searchIDs(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("searching subscribers: %w", err)
	}
	// The few matches are read in full by id: selecting every column in
	// the scan would read every whole row.
	out := make([]Subscriber, 0, len(ids))
	for _, id := range ids {
		sub, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

// searchCap is how many matches the trigram index may hand back before the
// search scans in address order instead (a fragment such as "example.org"
// that most supporters share).
const searchCap = 1000

func (s *Store) searchIDs(ctx context.Context, q string, limit int) ([]int64, error) {
	d := sqldb.DialectOf(s.db)
	// Addresses are stored lower-case. SQLite's LIKE ignores the case of
	// A-Z only (LOWER(name) would cost a function call per row and fold
	// no more); PostgreSQL's ILIKE folds every letter.
	like := d.Pick("LIKE", "ILIKE")
	matches := `email LIKE $1 ` + sqldb.LikeEscape + ` OR name ` + like + ` $1 ` + sqldb.LikeEscape
	if utf8.RuneCountInString(q) >= 3 {
		// Unordered, the trigram index answers (on SQLite a quoted FTS5
		// string, which the trigram tokenizer matches anywhere in either
		// column, ignoring case; on PostgreSQL the planner picks pg_trgm).
		query, arg := `SELECT id FROM subscribers WHERE `+matches+` LIMIT $2`, any(sqldb.Contains(q))
		if d == sqldb.SQLite {
			query, arg = `SELECT rowid FROM subscribers_search WHERE subscribers_search MATCH $1 LIMIT $2`, `"`+strings.ReplaceAll(q, `"`, `""`)+`"`
		}
		ids, err := queryIDs(ctx, s.db, query, arg, searchCap+1)
		if err != nil {
			return nil, err
		}
		if len(ids) <= searchCap {
			return queryIDs(ctx, s.db, `SELECT id FROM subscribers WHERE `+d.InIDs("id", "$1")+` ORDER BY email LIMIT $2`, d.IDList(ids), limit)
		}
	}
	return queryIDs(ctx, s.db, `SELECT id FROM subscribers WHERE `+matches+` ORDER BY email LIMIT $2`, sqldb.Contains(q), limit)
}

// trigramIndex makes PostgreSQL's trigram index for Search when the
// pg_trgm extension can be had (it ships with PostgreSQL, but creating it
// may need rights Crier's role lacks); without it Search scans. It runs at
// every start, so that enabling the extension later is enough. SQLite's
// index is a schema step.
func trigramIndex(ctx context.Context, db *sql.DB) error {
	if sqldb.DialectOf(db) != sqldb.Postgres {
		return nil
	}
	// The exception block keeps a refusal (no extension, no right to
	// create it, another replica making the index at the same moment) from
	// failing the start.
	_, err := db.ExecContext(ctx, `DO $$
BEGIN
	CREATE EXTENSION IF NOT EXISTS pg_trgm;
	CREATE INDEX IF NOT EXISTS subscribers_search ON subscribers USING gin (email gin_trgm_ops, name gin_trgm_ops);
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE 'no trigram index for the supporters search: %', SQLERRM;
END $$`)
	if err != nil {
		return fmt.Errorf("making the supporters' search index: %w", err)
	}
	return nil
}

// SearchIndexed reports whether Search has a trigram index to use.
func (s *Store) SearchIndexed(ctx context.Context) (bool, error) {
	q := `SELECT COUNT(*) FROM sqlite_master WHERE name = 'subscribers_search'`
	if sqldb.DialectOf(s.db) == sqldb.Postgres {
		q = `SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'subscribers_search'`
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("looking for the supporters' search index: %w", err)
	}
	return n > 0, nil
}

// rowsQuerier is a *sql.DB or *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryIDs runs a query of one id column and returns the ids.
func queryIDs(ctx context.Context, q rowsQuerier, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
