package subscribers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
)

var (
	// ErrExists is returned by Add for an address already on the list.
	ErrExists = errors.New("subscriber already exists")
	// ErrNotFound is returned for an id or address that is not on the list.
	ErrNotFound = errors.New("subscriber not found")
	// ErrSuppressed is returned by Add for an address whose owner had their
	// data erased: it must not come back through an import. A supporter who
	// subscribes again through the form lifts it with Unsuppress.
	ErrSuppressed = errors.New("address was erased at its owner's request")
)

// Store keeps the subscribers in the daemon's database.
type Store struct {
	db   *sql.DB
	now  func() time.Time
	salt []byte // for suppression hashes; made once per installation
}

// querier is a *sql.DB or *sql.Tx. The store's database has a single
// connection, so everything done inside a transaction must go through it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// The subscribers table uses AUTOINCREMENT so that an id is never reused
// after an erasure: the newsletter's send ledger is keyed by subscriber id,
// and a reused id would make a newcomer look as if they had already been sent
// a campaign.
var schema = []string{`
CREATE TABLE subscribers (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	email          TEXT NOT NULL UNIQUE,
	name           TEXT NOT NULL DEFAULT '',
	status         TEXT NOT NULL,
	status_reason  TEXT NOT NULL DEFAULT '',
	lists          TEXT NOT NULL DEFAULT '[]',
	consent_at     TIMESTAMP,
	consent_source TEXT NOT NULL DEFAULT '',
	consent_ip     TEXT NOT NULL DEFAULT '',
	created_at     TIMESTAMP NOT NULL,
	updated_at     TIMESTAMP NOT NULL
);
CREATE INDEX subscribers_status_id ON subscribers (status, id);

CREATE TABLE subscriber_suppressions (
	email_hash TEXT PRIMARY KEY,
	created_at TIMESTAMP NOT NULL
);

CREATE TABLE subscriber_settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`, `
ALTER TABLE subscribers ADD COLUMN confirm_mail_at INTEGER NOT NULL DEFAULT 0;
`}

// Open creates or migrates the subscribers' tables in db.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := store.Migrate(ctx, db, "subscribers", schema); err != nil {
		return nil, err
	}
	// The suppression hash's salt is made once per installation, so the
	// hashes mean nothing outside this database.
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("making the suppression salt: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO subscriber_settings (key, value) VALUES ('suppression_salt', $1)
		ON CONFLICT (key) DO NOTHING`, hex.EncodeToString(salt)); err != nil {
		return nil, fmt.Errorf("storing the suppression salt: %w", err)
	}
	var stored string
	if err := db.QueryRowContext(ctx, `SELECT value FROM subscriber_settings WHERE key = 'suppression_salt'`).Scan(&stored); err != nil {
		return nil, fmt.Errorf("reading the suppression salt: %w", err)
	}
	return &Store{db: db, now: time.Now, salt: []byte(stored)}, nil
}

// WithClock makes the store stamp times with now instead of time.Now (tests).
func (s *Store) WithClock(now func() time.Time) *Store {
	s.now = now
	return s
}

const columns = `id, email, name, status, lists, consent_at, consent_source, consent_ip, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (Subscriber, error) {
	var (
		sub       Subscriber
		status    string
		lists     string
		consentAt sql.NullTime
	)
	if err := row.Scan(&sub.ID, &sub.Email, &sub.Name, &status, &lists, &consentAt,
		&sub.ConsentSource, &sub.ConsentIP, &sub.CreatedAt, &sub.UpdatedAt); err != nil {
		return sub, err
	}
	sub.Status = Status(status)
	if consentAt.Valid {
		sub.ConsentAt = consentAt.Time
	}
	if err := json.Unmarshal([]byte(lists), &sub.Lists); err != nil {
		return sub, fmt.Errorf("decoding lists of subscriber %d: %w", sub.ID, err)
	}
	return sub, nil
}

// Valid reports whether st is one of the known statuses.
func (st Status) Valid() bool {
	switch st {
	case Unconfirmed, Confirmed, Unsubscribed, Bounced:
		return true
	}
	return false
}

// Add puts a new supporter on the list and returns them with their id and
// times. The address and name are normalised; a missing status means
// Unconfirmed. An address already on the list gives ErrExists, an erased one
// ErrSuppressed.
func (s *Store) Add(ctx context.Context, sub Subscriber) (Subscriber, error) {
	return s.add(ctx, s.db, sub, false)
}

// add is Add on q; with dryRun it checks everything but writes nothing.
func (s *Store) add(ctx context.Context, q querier, sub Subscriber, dryRun bool) (Subscriber, error) {
	var err error
	if sub.Email, err = NormalizeEmail(sub.Email); err != nil {
		return sub, fmt.Errorf("adding subscriber: %w", err)
	}
	if sub.Name, err = NormalizeName(sub.Name); err != nil {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
	}
	if sub.Lists, err = normalizeLists(sub.Lists); err != nil {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
	}
	if sub.Status == "" {
		sub.Status = Unconfirmed
	}
	if !sub.Status.Valid() {
		return sub, fmt.Errorf("adding subscriber %s: %w: unknown status %q", sub.Email, ErrInvalid, sub.Status)
	}
	suppressed, err := s.isSuppressed(ctx, q, sub.Email)
	if err != nil {
		return sub, err
	}
	if suppressed {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, ErrSuppressed)
	}
	lists, _ := json.Marshal(nonNil(sub.Lists))
	now := s.now().UTC()
	sub.CreatedAt, sub.UpdatedAt = now, now
	var consentAt any
	if !sub.ConsentAt.IsZero() {
		sub.ConsentAt = sub.ConsentAt.UTC()
		consentAt = sub.ConsentAt
	}
	if dryRun {
		var id int64
		err := q.QueryRowContext(ctx, `SELECT id FROM subscribers WHERE email = $1`, sub.Email).Scan(&id)
		switch {
		case err == nil:
			return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, ErrExists)
		case !errors.Is(err, sql.ErrNoRows):
			return sub, fmt.Errorf("checking subscriber %s: %w", sub.Email, err)
		}
		return sub, nil
	}
	err = q.QueryRowContext(ctx, `INSERT INTO subscribers (email, name, status, lists, consent_at, consent_source, consent_ip, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (email) DO NOTHING RETURNING id`,
		sub.Email, sub.Name, string(sub.Status), string(lists), consentAt, sub.ConsentSource, sub.ConsentIP, now).Scan(&sub.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, ErrExists)
	}
	if err != nil {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
	}
	return sub, nil
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Get returns the subscriber with the given id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Subscriber, error) {
	sub, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM subscribers WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("subscriber %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return sub, fmt.Errorf("reading subscriber %d: %w", id, err)
	}
	return sub, nil
}

// GetByEmail returns the subscriber with the given address (normalised
// first), or ErrNotFound.
func (s *Store) GetByEmail(ctx context.Context, email string) (Subscriber, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Subscriber{}, fmt.Errorf("looking up subscriber: %w", err)
	}
	sub, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM subscribers WHERE email = $1`, norm))
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("subscriber %s: %w", norm, ErrNotFound)
	}
	if err != nil {
		return sub, fmt.Errorf("reading subscriber %s: %w", norm, err)
	}
	return sub, nil
}

// SetStatus moves a subscriber to st; reason says why (e.g. "one-click",
// "550 mailbox unknown") and is kept for organisers.
func (s *Store) SetStatus(ctx context.Context, id int64, st Status, reason string) error {
	if !st.Valid() {
		return fmt.Errorf("setting status of subscriber %d: %w: unknown status %q", id, ErrInvalid, st)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE subscribers SET status = $1, status_reason = $2, updated_at = $3 WHERE id = $4`,
		string(st), reason, s.now().UTC(), id)
	if err != nil {
		return fmt.Errorf("setting status of subscriber %d to %s: %w", id, st, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("setting status of subscriber %d: %w", id, ErrNotFound)
	}
	return nil
}

// Confirm moves an unconfirmed subscriber to Confirmed. It reports whether
// the status changed; a subscriber who is already confirmed, or who left
// since the link was sent, is left as they are (an old confirmation link must
// not undo an unsubscribe).
func (s *Store) Confirm(ctx context.Context, id int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE subscribers SET status = $1, status_reason = 'confirmed by link', updated_at = $2
		WHERE id = $3 AND status = $4`, string(Confirmed), s.now().UTC(), id, string(Unconfirmed))
	if err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClaimConfirmationMail reserves the sending of a confirmation mail to
// subscriber id at now, and reports false when one was sent (or is being
// sent) less than every ago: the form must not become a way to flood
// someone's inbox. The claim is atomic, so two simultaneous form posts send
// one mail. After a failed send, ReleaseConfirmationMail lets the supporter
// try again at once.
func (s *Store) ClaimConfirmationMail(ctx context.Context, id int64, now time.Time, every time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE subscribers SET confirm_mail_at = $1 WHERE id = $2 AND (confirm_mail_at = 0 OR confirm_mail_at <= $3)`,
		now.UnixNano(), id, now.Add(-every).UnixNano())
	if err != nil {
		return false, fmt.Errorf("claiming confirmation mail of subscriber %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseConfirmationMail undoes a claim whose mail could not be sent.
func (s *Store) ReleaseConfirmationMail(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE subscribers SET confirm_mail_at = 0 WHERE id = $1`, id); err != nil {
		return fmt.Errorf("releasing confirmation mail of subscriber %d: %w", id, err)
	}
	return nil
}

// Reconsent records a fresh consent from a supporter who had left (or
// bounced, or never confirmed) and subscribes again: they become Unconfirmed
// until they follow the new confirmation link. A confirmed subscriber is
// left alone.
func (s *Store) Reconsent(ctx context.Context, id int64, name string, at time.Time, source, ip string) error {
	name, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("recording consent of subscriber %d: %w", id, err)
	}
	_, err = s.db.ExecContext(ctx, `UPDATE subscribers SET status = $1, status_reason = 'subscribed again',
		name = CASE WHEN $2 != '' THEN $2 ELSE name END,
		consent_at = $3, consent_source = $4, consent_ip = $5, updated_at = $6
		WHERE id = $7 AND status != $8`,
		string(Unconfirmed), name, at.UTC(), source, ip, s.now().UTC(), id, string(Confirmed))
	if err != nil {
		return fmt.Errorf("recording consent of subscriber %d: %w", id, err)
	}
	return nil
}

// ListConfirmed returns up to limit confirmed subscribers with an id above
// afterID, in id order, so a send can page through the list and resume.
func (s *Store) ListConfirmed(ctx context.Context, afterID int64, limit int) ([]Subscriber, error) {
	return s.list(ctx, `WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3`, string(Confirmed), afterID, limit)
}

// List returns up to limit subscribers with an id above afterID in id order,
// all of them when status is empty, else those with that status.
func (s *Store) List(ctx context.Context, status Status, afterID int64, limit int) ([]Subscriber, error) {
	if status == "" {
		return s.list(ctx, `WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	}
	return s.list(ctx, `WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3`, string(status), afterID, limit)
}

// Each calls fn for every subscriber (of the given status, or all when it is
// empty) in id order, a page at a time so memory stays flat.
func (s *Store) Each(ctx context.Context, status Status, fn func(Subscriber) error) error {
	var after int64
	for {
		page, err := s.List(ctx, status, after, 500)
		if err != nil {
			return err
		}
		for _, sub := range page {
			if err := fn(sub); err != nil {
				return err
			}
		}
		if len(page) < 500 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Store) list(ctx context.Context, where string, args ...any) ([]Subscriber, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+columns+` FROM subscribers `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing subscribers: %w", err)
	}
	defer rows.Close()
	var out []Subscriber
	for rows.Next() {
		sub, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("listing subscribers: %w", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing subscribers: %w", err)
	}
	return out, nil
}

// CountByStatus counts subscribers per status; every status is present.
func (s *Store) CountByStatus(ctx context.Context) (map[Status]int, error) {
	out := map[Status]int{Unconfirmed: 0, Confirmed: 0, Unsubscribed: 0, Bounced: 0}
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM subscribers GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("counting subscribers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("counting subscribers: %w", err)
		}
		out[Status(st)] = n
	}
	return out, rows.Err()
}

// Delete erases a supporter's personal data: their row (address, name,
// consent record) is removed. What is kept is a salted hash of the address
// in a suppression list, so that re-importing an old spreadsheet cannot put
// them back on the list without their knowledge; the hash cannot be turned
// back into the address without the installation's salt, and the GDPR
// (art. 17(3), 21) allows keeping the minimum needed to honour an objection.
// A supporter who later subscribes through the form again is let back in.
// Deleting an address that is not on the list still records the suppression
// and returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, email string) error {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("erasing subscriber: %w", err)
	}
	hash := s.hash(norm)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE email = $1`, norm)
	if err != nil {
		return fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `INSERT INTO subscriber_suppressions (email_hash, created_at) VALUES ($1, $2)
		ON CONFLICT (email_hash) DO NOTHING`, hash, s.now().UTC()); err != nil {
		return fmt.Errorf("recording suppression of %s: %w", norm, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	if n == 0 {
		return fmt.Errorf("erasing subscriber %s: %w", norm, ErrNotFound)
	}
	return nil
}

// IsSuppressed reports whether an address was erased at its owner's request.
func (s *Store) IsSuppressed(ctx context.Context, email string) (bool, error) {
	return s.isSuppressed(ctx, s.db, email)
}

func (s *Store) isSuppressed(ctx context.Context, q querier, email string) (bool, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return false, fmt.Errorf("checking suppression: %w", err)
	}
	var one int
	err = q.QueryRowContext(ctx, `SELECT 1 FROM subscriber_suppressions WHERE email_hash = $1`, s.hash(norm)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking suppression of %s: %w", norm, err)
	}
	return true, nil
}

// Unsuppress lifts the suppression of an address whose owner subscribes
// again themselves (through the form, with double opt-in).
func (s *Store) Unsuppress(ctx context.Context, email string) error {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return fmt.Errorf("lifting suppression: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM subscriber_suppressions WHERE email_hash = $1`, s.hash(norm)); err != nil {
		return fmt.Errorf("lifting suppression of %s: %w", norm, err)
	}
	return nil
}

func (s *Store) hash(norm string) string {
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(strings.ToLower(norm)))
	return hex.EncodeToString(m.Sum(nil))
}
