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

	"github.com/crierhq/crier/migrate"
)

var (
	// ErrExists is returned by Add for an address already on the list.
	ErrExists = errors.New("subscriber already exists")
	// ErrNotFound is returned for an id or address that is not on the list.
	ErrNotFound = errors.New("subscriber not found")
	// ErrSuppressed is returned by Add for an address whose owner had their
	// data erased: it must not come back through an import. A supporter who
	// subscribes again through the form lifts it by confirming (see
	// AddPending and Confirm).
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
`, `
ALTER TABLE subscribers ADD COLUMN pending_name TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN pending_at TIMESTAMP;
ALTER TABLE subscribers ADD COLUMN pending_source TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN pending_ip TEXT NOT NULL DEFAULT '';

CREATE TABLE consent_events (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	subscriber_id INTEGER NOT NULL,
	event         TEXT NOT NULL,
	at            TIMESTAMP NOT NULL,
	source        TEXT NOT NULL DEFAULT '',
	ip            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX consent_events_subscriber ON consent_events (subscriber_id, id);
`, `
-- What a supporter receives (each_post, digest, paused) and the language of
-- Crier's words in their mail; a send selects its recipients by them in
-- the query that snapshots the list.
ALTER TABLE subscribers ADD COLUMN preference TEXT NOT NULL DEFAULT 'each_post';
ALTER TABLE subscribers ADD COLUMN language TEXT NOT NULL DEFAULT '';
`}

// The pending_* columns hold a subscribe request from the form for an
// address already on the list (or erased) until its owner confirms it: a form
// post proves nothing about who sent it, so it must not overwrite the consent
// record, undo an unsubscribe or lift an erasure before the confirmation.

// Open creates or migrates the subscribers' tables in db.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := migrate.Up(ctx, db, "subscribers", schema); err != nil {
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

const columns = `id, email, name, status, lists, consent_at, consent_source, consent_ip, created_at, updated_at, preference, language`

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (Subscriber, error) {
	var (
		sub       Subscriber
		status    string
		lists     string
		pref      string
		consentAt sql.NullTime
	)
	if err := row.Scan(&sub.ID, &sub.Email, &sub.Name, &status, &lists, &consentAt,
		&sub.ConsentSource, &sub.ConsentIP, &sub.CreatedAt, &sub.UpdatedAt, &pref, &sub.Language); err != nil {
		return sub, err
	}
	sub.Preference = Preference(pref)
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
	if sub.Preference == "" {
		sub.Preference = EveryPost
	}
	if !sub.Preference.Valid() {
		return sub, fmt.Errorf("adding subscriber %s: %w: unknown preference %q (each_post, digest or paused)", sub.Email, ErrInvalid, sub.Preference)
	}
	if sub.Language, err = normalizeLanguage(sub.Language); err != nil {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
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
	err = q.QueryRowContext(ctx, `INSERT INTO subscribers (email, name, status, lists, consent_at, consent_source, consent_ip, created_at, updated_at, preference, language)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10) ON CONFLICT (email) DO NOTHING RETURNING id`,
		sub.Email, sub.Name, string(sub.Status), string(lists), consentAt, sub.ConsentSource, sub.ConsentIP, now,
		string(sub.Preference), sub.Language).Scan(&sub.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, ErrExists)
	}
	if err != nil {
		return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
	}
	if !sub.ConsentAt.IsZero() {
		if err := addEvent(ctx, q, sub.ID, EventConsent, sub.ConsentAt, sub.ConsentSource, sub.ConsentIP); err != nil {
			return sub, fmt.Errorf("adding subscriber %s: %w", sub.Email, err)
		}
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
// "550 mailbox unknown") and is kept for organisers, and in the subscriber's
// consent history. Leaving (unsubscribed, bounced) also drops any subscribe
// request still waiting for confirmation: the leave is newer.
func (s *Store) SetStatus(ctx context.Context, id int64, st Status, reason string) error {
	if !st.Valid() {
		return fmt.Errorf("setting status of subscriber %d: %w: unknown status %q", id, ErrInvalid, st)
	}
	now := s.now().UTC()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("setting status of subscriber %d to %s: %w", id, st, err)
	}
	defer tx.Rollback()
	clearPending := ""
	if st == Unsubscribed || st == Bounced {
		clearPending = `, pending_name = '', pending_at = NULL, pending_source = '', pending_ip = ''`
	}
	res, err := tx.ExecContext(ctx, `UPDATE subscribers SET status = $1, status_reason = $2, updated_at = $3`+clearPending+` WHERE id = $4`,
		string(st), reason, now, id)
	if err != nil {
		return fmt.Errorf("setting status of subscriber %d to %s: %w", id, st, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("setting status of subscriber %d: %w", id, ErrNotFound)
	}
	if err := addEvent(ctx, tx, id, string(st), now, reason, ""); err != nil {
		return fmt.Errorf("setting status of subscriber %d to %s: %w", id, st, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("setting status of subscriber %d to %s: %w", id, st, err)
	}
	return nil
}

// Confirmation is what the confirm link's request tells Confirm.
type Confirmation struct {
	// LinkIssued is when the confirmation link was made (Signer.Issued).
	LinkIssued time.Time
	// IP is the address the confirming request came from, kept in the
	// consent history as evidence of the double opt-in.
	IP string
}

// Confirm moves a subscriber to Confirmed through their confirmation link,
// and reports whether the status changed. A subscribe request waiting in
// pending_* (someone who had left, bounced or been erased, or who submitted
// the form again) becomes their consent record now, the previous one staying
// in the history, and an erasure's suppression is lifted now, since the
// confirmation proves the address's owner asked.
//
// A subscriber who left (unsubscribed or bounced) is only confirmed by a link
// made after they left and for a request still pending: an old
// confirmation link must not undo an unsubscribe. A confirmed subscriber is
// left as they are.
func (s *Store) Confirm(ctx context.Context, id int64, c Confirmation) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	defer tx.Rollback()
	var (
		email, status, pendingName, pendingSource, pendingIP string
		pendingAt                                            sql.NullTime
		updatedAt                                            time.Time
	)
	err = tx.QueryRowContext(ctx, `SELECT email, status, updated_at, pending_name, pending_at, pending_source, pending_ip FROM subscribers WHERE id = $1`, id).
		Scan(&email, &status, &updatedAt, &pendingName, &pendingAt, &pendingSource, &pendingIP)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	switch Status(status) {
	case Unconfirmed:
	case Unsubscribed, Bounced:
		// Links carry their expiry in whole seconds, so the link must be from
		// a later second than the leave: a link from the same second might be
		// the old one, and undoing an unsubscribe is the worse mistake.
		if !pendingAt.Valid || c.LinkIssued.Unix() <= updatedAt.Unix() {
			return false, nil
		}
	default:
		return false, nil
	}
	now := s.now().UTC()
	if pendingAt.Valid {
		if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET name = CASE WHEN $1 != '' THEN $1 ELSE name END,
			consent_at = $2, consent_source = $3, consent_ip = $4,
			pending_name = '', pending_at = NULL, pending_source = '', pending_ip = '' WHERE id = $5`,
			pendingName, pendingAt.Time.UTC(), pendingSource, pendingIP, id); err != nil {
			return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
		}
		if err := addEvent(ctx, tx, id, EventConsent, pendingAt.Time, pendingSource, pendingIP); err != nil {
			return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM subscriber_suppressions WHERE email_hash = $1`, s.hash(email)); err != nil {
			return false, fmt.Errorf("lifting suppression of subscriber %d: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE subscribers SET status = $1, status_reason = 'confirmed by link', updated_at = $2 WHERE id = $3`,
		string(Confirmed), now, id); err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	if err := addEvent(ctx, tx, id, string(Confirmed), now, "confirmation link", c.IP); err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("confirming subscriber %d: %w", id, err)
	}
	return true, nil
}

// Pending is a subscribe request from the form waiting for its confirmation.
type Pending struct {
	Name   string
	At     time.Time
	Source string
	IP     string
}

// SetPending keeps a subscribe request from the form for subscriber id, who
// is on the list but not confirmed (never confirmed, unsubscribed, bounced),
// until they follow the confirmation link: their status, name and consent
// record stay as they are until then. A later request replaces an earlier
// one. A confirmed subscriber is left alone.
func (s *Store) SetPending(ctx context.Context, id int64, p Pending) error {
	name, err := NormalizeName(p.Name)
	if err != nil {
		return fmt.Errorf("recording subscribe request of subscriber %d: %w", id, err)
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE subscribers SET pending_name = $1, pending_at = $2, pending_source = $3, pending_ip = $4
		WHERE id = $5 AND status != $6`, name, p.At.UTC(), p.Source, p.IP, id, string(Confirmed)); err != nil {
		return fmt.Errorf("recording subscribe request of subscriber %d: %w", id, err)
	}
	return nil
}

// AddPending puts an erased address back on the list as unconfirmed, with no
// name and no consent record, holding the request in pending_* until its
// owner confirms; the suppression stays until then, so imports still refuse
// the address. It reports whether it added a row: when the address already
// has one (an earlier request), that row is returned unchanged, and the caller
// records the request with SetPending. A row never confirmed goes with
// PurgeUnconfirmed.
func (s *Store) AddPending(ctx context.Context, email string, p Pending) (Subscriber, bool, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("adding subscribe request: %w", err)
	}
	name, err := NormalizeName(p.Name)
	if err != nil {
		return Subscriber{}, false, fmt.Errorf("adding subscribe request for %s: %w", norm, err)
	}
	now := s.now().UTC()
	var id int64
	err = s.db.QueryRowContext(ctx, `INSERT INTO subscribers (email, status, pending_name, pending_at, pending_source, pending_ip, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (email) DO NOTHING RETURNING id`,
		norm, string(Unconfirmed), name, p.At.UTC(), p.Source, p.IP, now).Scan(&id)
	added := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Subscriber{}, false, fmt.Errorf("adding subscribe request for %s: %w", norm, err)
	}
	sub, err := s.GetByEmail(ctx, norm)
	return sub, added, err
}

// PurgeUnconfirmed deletes the subscribers who signed up through the form
// (or asked to come back after an erasure) and never confirmed, whose last
// request is older than olderThan, with their consent history; pass
// now minus ConfirmTTL, when their last link has expired. It returns how many
// it deleted. Unconfirmed rows from an import are kept (the organiser put
// them there), and so are rows that were confirmed before.
func (s *Store) PurgeUnconfirmed(ctx context.Context, olderThan time.Time) (int, error) {
	ids, err := s.PurgeUnconfirmedIDs(ctx, olderThan)
	return len(ids), err
}

// PurgeUnconfirmedIDs is PurgeUnconfirmed returning the ids it deleted, for
// erasing what is kept under them outside the store (confirmation mails in
// the outbox).
func (s *Store) PurgeUnconfirmedIDs(ctx context.Context, olderThan time.Time) ([]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	defer tx.Rollback()
	// status_reason 'subscribed again' marks rows that earlier versions moved
	// back to unconfirmed when someone who had left used the form: they may
	// have been confirmed before, with no history to tell.
	const doomed = `SELECT id FROM subscribers s WHERE status = 'unconfirmed'
		AND COALESCE(pending_at, created_at) < $1
		AND (consent_source LIKE 'form:%' OR pending_at IS NOT NULL)
		AND status_reason != 'subscribed again'
		AND NOT EXISTS (SELECT 1 FROM consent_events e WHERE e.subscriber_id = s.id AND e.event = 'confirmed')`
	cut := olderThan.UTC()
	rows, err := tx.QueryContext(ctx, doomed, cut)
	if err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM consent_events WHERE subscriber_id IN (`+doomed+`)`, cut); err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE id IN (`+doomed+`)`, cut); err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("purging unconfirmed subscribers: %w", err)
	}
	return ids, nil
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
// consent record, any pending request) and their consent history are
// removed. What is kept is a salted hash of the address
// in a suppression list, so that re-importing an old spreadsheet cannot put
// them back on the list without their knowledge; the hash cannot be turned
// back into the address without the installation's salt, and the GDPR
// (art. 17(3), 21) allows keeping the minimum needed to honour an objection.
// A supporter who later subscribes through the form again is let back in
// when they confirm.
// Deleting an address that is not on the list still records the suppression
// and returns ErrNotFound.
func (s *Store) Delete(ctx context.Context, email string) error {
	_, err := s.Erase(ctx, email)
	return err
}

// Erase is Delete returning the id the subscriber had (0 when the address
// was not on the list), for erasing what is kept outside the database under
// that id (confirmation mails in the outbox).
func (s *Store) Erase(ctx context.Context, email string) (int64, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return 0, fmt.Errorf("erasing subscriber: %w", err)
	}
	hash := s.hash(norm)
	// One connection for the erasure and its clean-up: secure_delete makes
	// SQLite overwrite what it deletes with zeros instead of leaving it in
	// free space, and the checkpoint empties the WAL of the pages as they
	// were.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA secure_delete = ON`); err != nil {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA secure_delete = OFF`)
	id, err := s.erase(ctx, conn, norm, hash)
	if err != nil {
		return 0, err
	}
	// Another process reading (crier status) can keep part of the WAL;
	// the next checkpoint then finishes the job.
	_, _ = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if id == 0 {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, ErrNotFound)
	}
	return id, nil
}

// erase deletes the subscriber's rows (and, through the send ledger's
// trigger, theirs) and records the suppression, in one transaction; it
// returns the id the subscriber had, or 0.
func (s *Store) erase(ctx context.Context, conn *sql.Conn, norm, hash string) (int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM subscribers WHERE email = $1`, norm).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM consent_events WHERE subscriber_id IN (SELECT id FROM subscribers WHERE email = $1)`, norm); err != nil {
		return 0, fmt.Errorf("erasing consent history of %s: %w", norm, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE email = $1`, norm); err != nil {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO subscriber_suppressions (email_hash, created_at) VALUES ($1, $2)
		ON CONFLICT (email_hash) DO NOTHING`, hash, s.now().UTC()); err != nil {
		return 0, fmt.Errorf("recording suppression of %s: %w", norm, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("erasing subscriber %s: %w", norm, err)
	}
	return id, nil
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

// Unsuppress lifts the suppression of an address. Confirm does it for an
// erased supporter who subscribed again and confirmed; this is for tools.
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

// EventConsent is the consent history's event for a consent given (a form
// request once confirmed, an import's consent_at); the other events are the
// statuses a subscriber moved to, with the reason as their source.
const EventConsent = "consent"

// ConsentEvent is one entry of a subscriber's consent history: the consents
// they gave and every change of status, kept rather than overwritten so the
// record of an earlier consent or unsubscribe is not lost.
type ConsentEvent struct {
	SubscriberID int64     `json:"subscriber_id"`
	Event        string    `json:"event"` // EventConsent, or a Status
	At           time.Time `json:"at"`
	Source       string    `json:"source"` // consent source, or why the status changed
	IP           string    `json:"ip"`
}

func addEvent(ctx context.Context, q querier, id int64, event string, at time.Time, source, ip string) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO consent_events (subscriber_id, event, at, source, ip) VALUES ($1, $2, $3, $4, $5)`,
		id, event, at.UTC(), source, ip); err != nil {
		return fmt.Errorf("recording %s event: %w", event, err)
	}
	return nil
}

// History returns subscriber id's consent history, oldest first.
func (s *Store) History(ctx context.Context, id int64) ([]ConsentEvent, error) {
	h, err := s.histories(ctx, id, id)
	return h[id], err
}

// histories returns the consent histories of the subscribers with ids from
// first to last, oldest event first.
func (s *Store) histories(ctx context.Context, first, last int64) (map[int64][]ConsentEvent, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT subscriber_id, event, at, source, ip FROM consent_events
		WHERE subscriber_id BETWEEN $1 AND $2 ORDER BY subscriber_id, id`, first, last)
	if err != nil {
		return nil, fmt.Errorf("reading consent history: %w", err)
	}
	defer rows.Close()
	out := map[int64][]ConsentEvent{}
	for rows.Next() {
		var e ConsentEvent
		if err := rows.Scan(&e.SubscriberID, &e.Event, &e.At, &e.Source, &e.IP); err != nil {
			return nil, fmt.Errorf("reading consent history: %w", err)
		}
		out[e.SubscriberID] = append(out[e.SubscriberID], e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading consent history: %w", err)
	}
	return out, nil
}

// DB is the database the store keeps its tables in.
func (s *Store) DB() *sql.DB { return s.db }
