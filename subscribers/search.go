package subscribers

import (
	"context"
	"strings"

	"github.com/crierhq/crier/sqldb"
)

// Search returns up to limit subscribers whose address or name contains q
// (case-insensitively), by address. q's LIKE wildcards match only
// themselves. It reads the whole table, so it costs time in proportion to
// the list, not to q; errors never name q, which may be an address.
func (s *Store) Search(ctx context.Context, q string, limit int) ([]Subscriber, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" || limit <= 0 {
		return nil, nil
	}
	// Addresses are stored lower-case; LOWER(name) folds ASCII on SQLite
	// and all letters on PostgreSQL.
	return s.list(ctx, `WHERE email LIKE $1 `+sqldb.LikeEscape+` OR LOWER(name) LIKE $1 `+sqldb.LikeEscape+
		` ORDER BY email LIMIT $2`, sqldb.Contains(q), limit)
}
