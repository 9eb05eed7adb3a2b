package newsletter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/sqldb"
)

// Sends answers what the bounce processor asks of the send ledger
// (bounces.Sends): which send a signed return path or Message-ID names,
// and which newsletter a supporter got last. Both work on a database where
// no newsletter was ever sent.
type Sends struct{ db *sql.DB }

// NewSends reads the send ledger in db.
func NewSends(db *sql.DB) *Sends { return &Sends{db: db} }

var _ bounces.Sends = (*Sends)(nil)

// ByHash finds the send whose bounces.SendHash is h ("" when none is).
func (s *Sends) ByHash(ctx context.Context, h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if ok, err := s.ledgerExists(ctx); err != nil || !ok {
		return "", err // no send was ever made when the ledger is missing
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM email_sends ORDER BY created_at DESC`)
	if err != nil {
		return "", fmt.Errorf("reading the send ledger: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		if bounces.SendHash(id) == h {
			return id, nil
		}
	}
	return "", rows.Err()
}

// LastSentTo is the last send whose message the server accepted for
// subscriber id at or before t ("" when none is).
func (s *Sends) LastSentTo(ctx context.Context, id int64, t time.Time) (string, error) {
	if ok, err := s.ledgerExists(ctx); err != nil || !ok {
		return "", err
	}
	var sendID string
	err := s.db.QueryRowContext(ctx, `SELECT send_id FROM email_recipients WHERE subscriber_id = $1 AND state = $2 AND sent_at <= $3
		ORDER BY sent_at DESC LIMIT 1`, id, rcptSent, t.UTC()).Scan(&sendID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("reading the send ledger: %w", err)
	}
	return sendID, nil
}

// ledgerExists says whether the send ledger's tables were made: on a
// database where the newsletter never ran, there is no send to find.
func (s *Sends) ledgerExists(ctx context.Context) (bool, error) {
	ok, err := sqldb.DialectOf(s.db).TableExists(ctx, s.db, "email_recipients")
	if err != nil {
		return false, fmt.Errorf("reading the send ledger: %w", err)
	}
	return ok, nil
}
