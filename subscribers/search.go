package subscribers

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/crierhq/crier/sqldb"
)

// Search returns up to limit subscribers whose address or name contains q
// (case-insensitively), by address. q's LIKE wildcards match only
// themselves. No index can seek a substring, so it scans the
// subscribers_email_name index: time in proportion to the list. Errors
// never name q, which may be an address.
func (s *Store) Search(ctx context.Context, q string, limit int) ([]Subscriber, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" || limit <= 0 {
		return nil, nil
	}
	// Addresses are stored lower-case. SQLite's LIKE ignores the case of
	// A-Z only (LOWER(name) would cost a function call per row and fold
	// no more); PostgreSQL's ILIKE folds every letter.
	like := sqldb.DialectOf(s.db).Pick("LIKE", "ILIKE")
	ids, err := queryIDs(ctx, s.db, `SELECT id FROM subscribers WHERE email LIKE $1 `+sqldb.LikeEscape+
		` OR name `+like+` $1 `+sqldb.LikeEscape+` ORDER BY email LIMIT $2`, sqldb.Contains(q), limit)
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
