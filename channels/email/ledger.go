package email

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/migrate"
)

// The send ledger: one row per campaign (email_sends) and one per recipient
// of it (email_recipients). A recipient row is pending until the SMTP server
// accepted the message for them (sent), refused it for good (failed), or
// they left the list before their turn (skipped). "sending" marks rows an
// attempt has taken in hand; an attempt that starts finds any left from a
// dead one and puts them back to pending.
var schema = []string{`
CREATE TABLE email_sends (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	ref         TEXT NOT NULL,
	subject     TEXT NOT NULL,
	state       TEXT NOT NULL,
	total       INTEGER NOT NULL,
	created_at  TIMESTAMP NOT NULL,
	updated_at  TIMESTAMP NOT NULL,
	finished_at TIMESTAMP
);

CREATE TABLE email_recipients (
	send_id       TEXT NOT NULL,
	subscriber_id INTEGER NOT NULL,
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	next_try_at   TIMESTAMP,
	sent_at       TIMESTAMP,
	PRIMARY KEY (send_id, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX email_recipients_state ON email_recipients (send_id, state, subscriber_id);
CREATE INDEX email_recipients_sent_at ON email_recipients (sent_at) WHERE sent_at IS NOT NULL;
`, `
-- How many bytes of the send's journal (journal.go) are folded into
-- email_recipients.
ALTER TABLE email_sends ADD COLUMN journal_offset INTEGER NOT NULL DEFAULT 0;
`, `
-- Every recipient changes state twice in a send (taken in hand, then sent),
-- and an index on the state paid for both on the path of every message.
-- The primary key serves what it served: a send is walked in id order.
DROP INDEX IF EXISTS email_recipients_state;
`, `
-- Erasure is complete: when a subscriber row goes (crier subscribers remove,
-- the admin API, the purge of unconfirmed ones), their rows in every send go
-- with it, last_error included (a 4xx reply may quote the address), and the
-- sends' totals stay equal to their rows. The send_id IN (...) lets SQLite
-- use the primary key, one lookup per send, instead of scanning the ledger.
CREATE TRIGGER email_recipients_erase AFTER DELETE ON subscribers
BEGIN
	UPDATE email_sends SET total = total - 1 WHERE id IN (
		SELECT send_id FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id);
	DELETE FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id;
END;
-- Rows of subscribers erased before this step.
DELETE FROM email_recipients WHERE subscriber_id NOT IN (SELECT id FROM subscribers);
UPDATE email_sends SET total = (SELECT COUNT(*) FROM email_recipients r WHERE r.send_id = email_sends.id);
`}

// Recipient states.
const (
	rcptPending = "pending"
	rcptSending = "sending"
	rcptSent    = "sent"
	rcptFailed  = "failed"
	rcptSkipped = "skipped"
)

// Send states.
const (
	sendSending = "sending"
	sendDone    = "done"
)

type ledger struct {
	db  *sql.DB
	now func() time.Time
	log *slog.Logger
	// Prepared once: they run for every message.
	sentStmt   *sql.Stmt
	statusStmt *sql.Stmt
}

func openLedger(ctx context.Context, db *sql.DB, now func() time.Time, log *slog.Logger) (*ledger, error) {
	if err := migrate.Up(ctx, db, "email", schema); err != nil {
		return nil, err
	}
	l := &ledger{db: db, now: now, log: log}
	var err error
	if l.sentStmt, err = db.PrepareContext(ctx, `UPDATE email_recipients SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = ''
		WHERE send_id = $2 AND subscriber_id IN (SELECT value FROM json_each($3)) AND state != 'sent'`); err != nil {
		return nil, fmt.Errorf("preparing the send ledger: %w", err)
	}
	if l.statusStmt, err = db.PrepareContext(ctx, `SELECT status FROM subscribers WHERE id = $1`); err != nil {
		return nil, fmt.Errorf("preparing the send ledger: %w", err)
	}
	return l, nil
}

// selection says which confirmed subscribers a send is for.
type selection struct {
	// preferences are the subscriber preferences it goes to.
	preferences []string
	// general is true for a newsletter with a post on no topic: it goes
	// whatever the topics a subscriber chose.
	general bool
	// allTopics are the configured topics, topics those of the newsletter.
	allTopics, topics []string
}

// selectionSQL is the selection's condition on a subscribers row ($3 to
// $6): the preference, and the topics - a subscriber who chose none of the
// configured topics (lists from an import that are not topics do not
// count) gets every newsletter. It runs once per send, in the query that
// snapshots the list, so the send itself never filters per recipient.
const selectionSQL = `preference IN (SELECT value FROM json_each($3))
	AND ($4 OR NOT EXISTS (SELECT 1 FROM json_each(subscribers.lists) l WHERE l.value IN (SELECT value FROM json_each($5)))
		OR EXISTS (SELECT 1 FROM json_each(subscribers.lists) l WHERE l.value IN (SELECT value FROM json_each($6))))`

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// begin creates the send and snapshots the confirmed subscribers into it
// in one transaction, or finds the send made by an earlier attempt. Rows an
// earlier attempt left "sending" go back to pending: their outcome is
// unknown, and they are sent again (at most one per SMTP connection of that
// attempt was in flight). It returns how many rows it put back.
func (l *ledger) begin(ctx context.Context, id, kind, ref, subject string, sel selection) (reclaimed int64, err error) {
	now := l.now().UTC()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $6) ON CONFLICT (id) DO NOTHING`, id, kind, ref, subject, sendSending, now)
	if err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		res, err := tx.ExecContext(ctx, `INSERT INTO email_recipients (send_id, subscriber_id, state)
			SELECT $1, id, $2 FROM subscribers WHERE status = 'confirmed' AND `+selectionSQL+` ORDER BY id`,
			id, rcptPending, jsonList(sel.preferences), sel.general, jsonList(sel.allTopics), jsonList(sel.topics))
		if err != nil {
			return 0, fmt.Errorf("snapshotting recipients of %s: %w", id, err)
		}
		total, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE email_sends SET total = $1 WHERE id = $2`, total, id); err != nil {
			return 0, fmt.Errorf("snapshotting recipients of %s: %w", id, err)
		}
	} else {
		res, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1 WHERE send_id = $2 AND state = $3`, rcptPending, id, rcptSending)
		if err != nil {
			return 0, fmt.Errorf("resuming send %s: %w", id, err)
		}
		reclaimed, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE email_sends SET state = $1, finished_at = NULL, updated_at = $2 WHERE id = $3 AND state != $1`,
			sendSending, now, id); err != nil {
			return 0, fmt.Errorf("resuming send %s: %w", id, err)
		}
	}
	return reclaimed, tx.Commit()
}

// recipient is one row taken in hand, with the subscriber's current data.
type recipient struct {
	id       int64
	email    string
	name     string
	language string
	attempts int
	// checkedAt is when the recipient was last seen still subscribed.
	checkedAt time.Time
}

// claim takes up to limit pending recipients whose turn has come, in id
// order after afterID, and marks them sending. Recipients who are no longer
// confirmed (unsubscribed, bounced or erased since the snapshot) are marked
// skipped instead.
func (l *ledger) claim(ctx context.Context, sendID string, afterID int64, limit int) ([]recipient, int64, error) {
	now := l.now().UTC()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT r.subscriber_id, r.attempts, COALESCE(s.email, ''), COALESCE(s.name, ''), COALESCE(s.status, ''), COALESCE(s.language, ''), COALESCE(s.preference, '')
		FROM email_recipients r LEFT JOIN subscribers s ON s.id = r.subscriber_id
		WHERE r.send_id = $1 AND r.state = $2 AND r.subscriber_id > $3 AND (r.next_try_at IS NULL OR r.next_try_at <= $4)
		ORDER BY r.subscriber_id LIMIT $5`, sendID, rcptPending, afterID, now, limit)
	if err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	var out []recipient
	var skipped []int64
	last := afterID
	for rows.Next() {
		var r recipient
		var status, pref string
		if err := rows.Scan(&r.id, &r.attempts, &r.email, &r.name, &status, &r.language, &pref); err != nil {
			rows.Close()
			return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
		}
		last = r.id
		r.checkedAt = now
		if status != "confirmed" || pref == "paused" {
			// Left the list, or paused, since the snapshot.
			skipped = append(skipped, r.id)
			continue
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	for _, id := range skipped {
		if _, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1, last_error = 'left the list before their turn'
			WHERE send_id = $2 AND subscriber_id = $3`, rcptSkipped, sendID, id); err != nil {
			return nil, afterID, fmt.Errorf("skipping recipient %d of %s: %w", id, sendID, err)
		}
	}
	if len(out) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1
			WHERE send_id = $2 AND state = $3 AND subscriber_id > $4 AND subscriber_id <= $5 AND (next_try_at IS NULL OR next_try_at <= $6)`,
			rcptSending, sendID, rcptPending, afterID, last, now); err != nil {
			return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	return out, last, nil
}

// stillConfirmed reports whether the subscriber may still be sent to; it is
// checked right before each message so that someone who unsubscribes while
// their batch waits gets nothing.
func (l *ledger) stillConfirmed(ctx context.Context, id int64) (bool, error) {
	var status string
	err := l.statusStmt.QueryRowContext(ctx, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking subscriber %d: %w", id, err)
	}
	return status == "confirmed", nil
}

// journalOffset is how much of the send's journal is folded into the
// ledger; ok is false when the send does not exist (yet).
func (l *ledger) journalOffset(ctx context.Context, sendID string) (offset int64, ok bool, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT journal_offset FROM email_sends WHERE id = $1`, sendID).Scan(&offset)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the journal position of %s: %w", sendID, err)
	}
	return offset, true, nil
}

// foldSent records the journal's marks as sent and the journal position
// they reach, in one transaction and one statement. The marks share one
// sent_at, the latest of them: they span about a second (foldInterval),
// and sent_at only feeds the hourly and daily caps and the rate.
func (l *ledger) foldSent(ctx context.Context, sendID string, marks []sentMark, offset int64) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("recording sent messages of %s: %w", sendID, err)
	}
	defer tx.Rollback()
	if len(marks) > 0 {
		ids := make([]byte, 0, 1+len(marks)*8)
		ids = append(ids, '[')
		var at time.Time
		for i, m := range marks {
			if i > 0 {
				ids = append(ids, ',')
			}
			ids = strconv.AppendInt(ids, m.id, 10)
			if m.at.After(at) {
				at = m.at
			}
		}
		ids = append(ids, ']')
		if _, err := tx.StmtContext(ctx, l.sentStmt).ExecContext(ctx, at.UTC(), sendID, string(ids)); err != nil {
			return fmt.Errorf("recording %d messages of %s as sent: %w", len(marks), sendID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE email_sends SET journal_offset = $1 WHERE id = $2`, offset, sendID); err != nil {
		return fmt.Errorf("recording sent messages of %s: %w", sendID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording sent messages of %s: %w", sendID, err)
	}
	return nil
}

// markFailed records a refusal for good.
func (l *ledger) markFailed(ctx context.Context, sendID string, id int64, reason string) error {
	_, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET state = $1, attempts = attempts + 1, last_error = $2
		WHERE send_id = $3 AND subscriber_id = $4`, rcptFailed, reason, sendID, id)
	if err != nil {
		return fmt.Errorf("recording failure for subscriber %d of %s: %w", id, sendID, err)
	}
	return nil
}

// markSkipped records a recipient who left before their turn.
func (l *ledger) markSkipped(ctx context.Context, sendID string, id int64) error {
	_, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET state = $1, last_error = 'left the list before their turn'
		WHERE send_id = $2 AND subscriber_id = $3`, rcptSkipped, sendID, id)
	if err != nil {
		return fmt.Errorf("skipping subscriber %d of %s: %w", id, sendID, err)
	}
	return nil
}

// release puts a recipient back to pending, to be tried again at next
// (temporary refusals; messages not started when the attempt stopped).
func (l *ledger) release(ctx context.Context, sendID string, id int64, countAttempt bool, reason string, next time.Time) error {
	inc := 0
	if countAttempt {
		inc = 1
	}
	var nextTry any
	if !next.IsZero() {
		nextTry = next.UTC()
	}
	_, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET state = $1, attempts = attempts + $2,
		last_error = CASE WHEN $3 != '' THEN $3 ELSE last_error END, next_try_at = $4
		WHERE send_id = $5 AND subscriber_id = $6`, rcptPending, inc, reason, nextTry, sendID, id)
	if err != nil {
		return fmt.Errorf("putting subscriber %d of %s back: %w", id, sendID, err)
	}
	return nil
}

// counts returns the send's rows per state.
func (l *ledger) counts(ctx context.Context, sendID string) (map[string]int, error) {
	return countStates(ctx, l.db, sendID)
}

func countStates(ctx context.Context, db *sql.DB, sendID string) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT state, COUNT(*) FROM email_recipients WHERE send_id = $1 GROUP BY state`, sendID)
	if err != nil {
		return nil, fmt.Errorf("counting recipients of %s: %w", sendID, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("counting recipients of %s: %w", sendID, err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// nextTry is when the earliest pending recipient may be tried again (zero
// when none waits).
func (l *ledger) nextTry(ctx context.Context, sendID string) (time.Time, error) {
	var t sql.NullTime
	err := l.db.QueryRowContext(ctx, `SELECT next_try_at FROM email_recipients WHERE send_id = $1 AND state = $2 ORDER BY next_try_at LIMIT 1`, sendID, rcptPending).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading retry times of %s: %w", sendID, err)
	}
	if !t.Valid {
		return time.Time{}, nil
	}
	return t.Time, nil
}

// finish marks the send done.
func (l *ledger) finish(ctx context.Context, sendID string) error {
	now := l.now().UTC()
	_, err := l.db.ExecContext(ctx, `UPDATE email_sends SET state = $1, updated_at = $2, finished_at = $2 WHERE id = $3`, sendDone, now, sendID)
	if err != nil {
		return fmt.Errorf("finishing send %s: %w", sendID, err)
	}
	return nil
}

// sentSince counts messages sent by every send since t, for the hourly and
// daily caps.
func (l *ledger) sentSince(ctx context.Context, t time.Time) (int, error) {
	var n int
	err := l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_recipients WHERE sent_at IS NOT NULL AND sent_at > $1`, t.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting recent messages: %w", err)
	}
	return n, nil
}

// oldestSentSince is the earliest send time after t (for when a cap frees
// up).
func (l *ledger) oldestSentSince(ctx context.Context, t time.Time) (time.Time, error) {
	var ts sql.NullTime
	err := l.db.QueryRowContext(ctx, `SELECT sent_at FROM email_recipients WHERE sent_at IS NOT NULL AND sent_at > $1 ORDER BY sent_at LIMIT 1`, t.UTC()).Scan(&ts)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil || !ts.Valid {
		return time.Time{}, err
	}
	return ts.Time, nil
}

// Progress is one newsletter send as `crier status` and /metrics show it.
type Progress struct {
	SendID  string `json:"send_id"`
	Kind    string `json:"kind"` // post, digest
	Ref     string `json:"ref"`  // the post id or digest id
	Subject string `json:"subject"`
	State   string `json:"state"` // sending, done
	Total   int    `json:"total"`
	Sent    int    `json:"sent"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
	Pending int    `json:"pending"`
	// Rate is messages per second over the last minute.
	Rate       float64    `json:"rate_per_second"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Failures are up to five recipients the server refused for good, with
	// its reply.
	Failures []Failure `json:"failures,omitempty"`
	// Counts are what came back after sending: delivered, bounced,
	// complained, unsubscribed, the complaint rate and its warning.
	bounces.Counts
}

// Failure is one recipient a send could not deliver to.
type Failure struct {
	SubscriberID int64  `json:"subscriber_id"`
	Email        string `json:"email,omitempty"` // empty once erased
	Reason       string `json:"reason"`
}

// SendProgress lists the newsletter sends, newest first (at most 20), with
// sent, failed, skipped and pending counts and the current rate. It works on
// a database where the email channel never ran (no sends).
func SendProgress(ctx context.Context, db *sql.DB) ([]Progress, error) {
	var exists int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'email_sends'`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("reading newsletter sends: %w", err)
	}
	if exists == 0 {
		return nil, nil
	}
	return progress(ctx, db, "")
}

// progress reads the newest 20 sends matching where ("" for all) with their
// per-state counts.
func progress(ctx context.Context, db *sql.DB, where string) ([]Progress, error) {
	if where != "" {
		where = "WHERE " + where
	}
	rows, err := db.QueryContext(ctx, `SELECT id, kind, ref, subject, state, total, created_at, finished_at FROM email_sends `+where+` ORDER BY created_at DESC, id LIMIT 20`)
	if err != nil {
		return nil, fmt.Errorf("reading newsletter sends: %w", err)
	}
	var out []Progress
	for rows.Next() {
		var p Progress
		var fin sql.NullTime
		if err := rows.Scan(&p.SendID, &p.Kind, &p.Ref, &p.Subject, &p.State, &p.Total, &p.StartedAt, &fin); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading newsletter sends: %w", err)
		}
		if fin.Valid {
			t := fin.Time
			p.FinishedAt = &t
		}
		out = append(out, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading newsletter sends: %w", err)
	}
	minuteAgo := time.Now().UTC().Add(-time.Minute)
	for i := range out {
		p := &out[i]
		c, err := countStates(ctx, db, p.SendID)
		if err != nil {
			return nil, err
		}
		p.Sent, p.Failed, p.Skipped, p.Pending = c[rcptSent], c[rcptFailed], c[rcptSkipped], c[rcptPending]+c[rcptSending]
		if p.Failed > 0 {
			if p.Failures, err = failures(ctx, db, p.SendID); err != nil {
				return nil, err
			}
		}
		if p.Counts, err = bounces.SendCounts(ctx, db, p.SendID, p.Sent); err != nil {
			return nil, err
		}
		if p.State == sendSending {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_recipients WHERE send_id = $1 AND state = $2 AND sent_at > $3`,
				p.SendID, rcptSent, minuteAgo).Scan(&n); err != nil {
				return nil, fmt.Errorf("reading the rate of %s: %w", p.SendID, err)
			}
			p.Rate = float64(n) / 60
		}
	}
	return out, nil
}

func failures(ctx context.Context, db *sql.DB, sendID string) ([]Failure, error) {
	rows, err := db.QueryContext(ctx, `SELECT r.subscriber_id, COALESCE(s.email, ''), r.last_error
		FROM email_recipients r LEFT JOIN subscribers s ON s.id = r.subscriber_id
		WHERE r.send_id = $1 AND r.state = $2 ORDER BY r.subscriber_id LIMIT 5`, sendID, rcptFailed)
	if err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.SubscriberID, &f.Email, &f.Reason); err != nil {
			return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
