package newsletter

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/migrate"
	"github.com/crierhq/crier/sqldb"
	"github.com/crierhq/crier/subscribers"
)

// The send ledger: one row per campaign (email_sends) and one per recipient
// of it (email_recipients). A recipient row is pending until the SMTP server
// accepted the message for them (sent), refused it for good (failed), or
// they left the list before their turn (skipped). "sending" marks rows an
// attempt has taken in hand; an attempt that starts finds any left from a
// dead one and puts them back to pending.
var schema = []string{migrate.Dialects(`
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
	subscriber_id BIGINT NOT NULL,
	state         TEXT NOT NULL,
	attempts      INTEGER NOT NULL DEFAULT 0,
	last_error    TEXT NOT NULL DEFAULT '',
	next_try_at   TIMESTAMP,
	sent_at       TIMESTAMP,
	PRIMARY KEY (send_id, subscriber_id)
);
CREATE INDEX email_recipients_state ON email_recipients (send_id, state, subscriber_id);
CREATE INDEX email_recipients_sent_at ON email_recipients (sent_at) WHERE sent_at IS NOT NULL;
`), `
-- How many bytes of the send's journal (journal.go) are folded into
-- email_recipients.
ALTER TABLE email_sends ADD COLUMN journal_offset BIGINT NOT NULL DEFAULT 0;
`, `
-- Every recipient changes state twice in a send (taken in hand, then sent),
-- and an index on the state paid for both on the path of every message.
-- The primary key serves what it served: a send is walked in id order.
DROP INDEX IF EXISTS email_recipients_state;
`, migrate.Dialects(`
-- Erasure is complete: when a subscriber row goes (crier subscribers remove,
-- the admin API, the purge of unconfirmed ones), their rows in every send go
-- with it, last_error included (a 4xx reply may quote the address), and the
-- sends' totals stay equal to their rows. The send_id IN (...) lets SQLite
-- use the primary key, one lookup per send, instead of scanning the ledger.
CREATE TRIGGER email_recipients_erase `+subscribers.OnErase+`
BEGIN
	UPDATE email_sends SET total = total - 1 WHERE id IN (
		SELECT send_id FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id);
	DELETE FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id;
END;
-- Rows of subscribers erased before this step.
DELETE FROM email_recipients WHERE subscriber_id NOT IN (`+subscribers.AllIDs+`);
UPDATE email_sends SET total = (SELECT COUNT(*) FROM email_recipients r WHERE r.send_id = email_sends.id);
`, `
-- The same erasure as on SQLite: a trigger function and a row trigger.
CREATE FUNCTION email_recipients_erase() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE email_sends SET total = total - 1 WHERE id IN (
		SELECT send_id FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id);
	DELETE FROM email_recipients WHERE send_id IN (SELECT id FROM email_sends) AND subscriber_id = OLD.id;
	RETURN OLD;
END;
$$;
CREATE TRIGGER email_recipients_erase `+subscribers.OnErase+`
	FOR EACH ROW EXECUTE FUNCTION email_recipients_erase();
DELETE FROM email_recipients WHERE subscriber_id NOT IN (`+subscribers.AllIDs+`);
UPDATE email_sends SET total = (SELECT COUNT(*) FROM email_recipients r WHERE r.send_id = email_sends.id);
`), `
-- A send shared by several replicas (PostgreSQL): a row taken in hand
-- ("sending") belongs to the replica claimed_by until lease_until (Unix
-- nanoseconds), which that replica keeps pushing forward while it sends; a
-- row whose lease ran out (its replica died) is claimed again by any
-- replica. source is what the newsletter is made from, so that every
-- replica can make the same message.
ALTER TABLE email_recipients ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE email_recipients ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE email_sends ADD COLUMN source TEXT NOT NULL DEFAULT '';
`, migrate.Dialects(`
-- Nothing to change on SQLite.
SELECT 1;
`, `
-- Room in each page for a row's next version: a recipient's row changes
-- twice in a send (taken in hand, then sent), and with room the first
-- change stays in its page without new index entries (a HOT update).
-- Measured in the newsletter benchmark: PostgreSQL's CPU per message down
-- by about a fifth, for twice the table's size on disk.
ALTER TABLE email_recipients SET (fillfactor = 50);
`), `
-- Clicks through the newsletter's counted links (clicks.go): one number
-- per link and send; nothing about who followed it, nor when.
CREATE TABLE email_link_clicks (
	send_id TEXT NOT NULL,
	url     TEXT NOT NULL,
	clicks  BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (send_id, url)
);
`}

// DefaultLease is how long a replica's claim on recipients lasts without
// being renewed: a replica that dies mid-send holds its rows up to this
// long before the others take them.
const DefaultLease = 30 * time.Second

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

// PrepareLedger creates or migrates the send ledger's tables in db (crier
// store copy prepares a target database with it).
func PrepareLedger(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "email", schema)
}

type ledger struct {
	db *sql.DB
	d  sqldb.Dialect
	// replica names this process in the rows it claims.
	replica string
	// lease is how long a claim lasts without renewal (DefaultLease).
	lease time.Duration
	now   func() time.Time
	log   *slog.Logger
	// Prepared once: they run for every message.
	sentStmt *sql.Stmt
	status   *subscribers.StatusCheck
}

func openLedger(ctx context.Context, db *sql.DB, now func() time.Time, log *slog.Logger) (*ledger, error) {
	if err := migrate.Up(ctx, db, "email", schema); err != nil {
		return nil, err
	}
	l := &ledger{db: db, d: sqldb.DialectOf(db), replica: rand.Text()[:12], lease: DefaultLease, now: now, log: log}
	var err error
	if l.sentStmt, err = db.PrepareContext(ctx, `UPDATE email_recipients SET state = 'sent', sent_at = $1, attempts = attempts + 1, last_error = ''
		WHERE send_id = $2 AND `+l.d.InIDs("subscriber_id", "$3")+` AND state != 'sent'`); err != nil {
		return nil, fmt.Errorf("preparing the send ledger: %w", err)
	}
	if l.status, err = subscribers.NewStatusCheck(ctx, db); err != nil {
		return nil, fmt.Errorf("preparing the send ledger: %w", err)
	}
	return l, nil
}

// begin creates the send and snapshots the confirmed subscribers into it
// in one transaction, or finds the send made by an earlier attempt. Rows an
// earlier attempt left "sending" go back to pending: their outcome is
// unknown, and they are sent again (at most one per SMTP connection of that
// attempt was in flight). On SQLite (one process) that is every such row; on
// PostgreSQL only those whose lease ran out, since the others belong to
// replicas still sending. It returns how many rows it put back.
func (l *ledger) begin(ctx context.Context, id, kind, ref, subject string, src sendSource, sel subscribers.Selection) (reclaimed int64, err error) {
	now := l.now().UTC()
	source, err := json.Marshal(src)
	if err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	defer tx.Rollback()
	snapshot := false
	res, err := tx.ExecContext(ctx, `INSERT INTO email_sends (id, kind, ref, subject, state, total, created_at, updated_at, source)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7) ON CONFLICT (id) DO NOTHING`, id, kind, ref, subject, sendSending, now, string(source))
	if err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		snapshot = true
		selected, args := subscribers.SelectedIDs(l.d, sel, 3)
		res, err := tx.ExecContext(ctx, `INSERT INTO email_recipients (send_id, subscriber_id, state)
			SELECT $1, c.id, $2 FROM (`+selected+`) c ORDER BY c.id`, append([]any{id, rcptPending}, args...)...)
		if err != nil {
			return 0, fmt.Errorf("snapshotting recipients of %s: %w", id, err)
		}
		total, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE email_sends SET total = $1 WHERE id = $2`, total, id); err != nil {
			return 0, fmt.Errorf("snapshotting recipients of %s: %w", id, err)
		}
	} else {
		expired := now.UnixNano()
		if l.d != sqldb.Postgres {
			expired = math.MaxInt64
		}
		res, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1, claimed_by = '' WHERE send_id = $2 AND state = $3 AND lease_until < $4`,
			rcptPending, id, rcptSending, expired)
		if err != nil {
			return 0, fmt.Errorf("resuming send %s: %w", id, err)
		}
		reclaimed, _ = res.RowsAffected()
		// A send marked done (by any replica) stays done: none of its
		// rows can be pending again.
		if _, err := tx.ExecContext(ctx, `UPDATE email_sends SET updated_at = $2, source = $4 WHERE id = $3 AND state = $1 AND source = ''`,
			sendSending, now, id, string(source)); err != nil {
			return 0, fmt.Errorf("resuming send %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("starting send %s: %w", id, err)
	}
	if snapshot && l.d == sqldb.Postgres {
		// Statistics from before the snapshot make PostgreSQL's planner
		// expect a few rows for the send and fetch and sort all of them
		// for every page claimed: 20-100 ms a page at 50,000 recipients,
		// growing with the list. Fresh ones give an index walk that stops
		// after the page. Autovacuum would get there, minutes later.
		if _, err := l.db.ExecContext(ctx, `ANALYZE email_recipients`); err != nil {
			l.log.Warn("updating the planner's statistics after the snapshot (the send goes on, slower)", "send", id, "err", err)
		}
	}
	return reclaimed, nil
}

// sharedSend is a send in progress that another replica may join.
type sharedSend struct {
	id, kind, ref string
	source        sendSource
	// open is true when it has recipients to claim now; a send without
	// may be done (finishIfDone).
	open bool
}

// sendsToJoin lists the sends in progress, leaving out those skip names (the
// sends this replica already works on), each saying whether it has
// recipients to claim now (pending and due, or held by a replica whose lease
// ran out).
func (l *ledger) sendsToJoin(ctx context.Context, skip func(id string) bool) ([]sharedSend, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT id, kind, ref, source FROM email_sends
		WHERE state = $1 AND source != '' ORDER BY created_at`, sendSending)
	if err != nil {
		return nil, fmt.Errorf("looking for newsletter sends to share: %w", err)
	}
	var sends []sharedSend
	for rows.Next() {
		var s sharedSend
		var src string
		if err := rows.Scan(&s.id, &s.kind, &s.ref, &src); err != nil {
			rows.Close()
			return nil, fmt.Errorf("looking for newsletter sends to share: %w", err)
		}
		if skip(s.id) {
			continue
		}
		if err := json.Unmarshal([]byte(src), &s.source); err != nil {
			l.log.Error("a newsletter send cannot be shared: its source does not read", "send", s.id, "err", err)
			continue
		}
		sends = append(sends, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("looking for newsletter sends to share: %w", err)
	}
	// Whether a send has rows to claim is asked only of the sends this
	// replica is not working on: the question walks the send's rows
	// already sent, and every replica asks it every few seconds.
	now := l.now().UTC()
	for i := range sends {
		s := &sends[i]
		if err := l.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM email_recipients r WHERE r.send_id = $1 AND
			((r.state = $2 AND (r.next_try_at IS NULL OR r.next_try_at <= $3)) OR (r.state = $4 AND r.lease_until < $5)))`,
			s.id, rcptPending, now, rcptSending, now.UnixNano()).Scan(&s.open); err != nil {
			return nil, fmt.Errorf("looking for newsletter sends to share: %w", err)
		}
	}
	return sends, nil
}

// renew pushes forward the lease on the rows of a send this replica holds,
// by their ids (the pages in hand), so that it costs the same whatever the
// size of the send.
func (l *ledger) renew(ctx context.Context, sendID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	// Rows being checkpointed at this moment are passed over (they are
	// becoming sent): waiting for them could deadlock with the group
	// commit, which locks its rows in another order.
	_, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET lease_until = $1 WHERE (send_id, subscriber_id) IN (
		SELECT send_id, subscriber_id FROM email_recipients WHERE send_id = $2 AND `+l.d.InIDs("subscriber_id", "$5")+`
			AND claimed_by = $3 AND state = $4`+l.d.SkipLocked("email_recipients")+`)`,
		l.now().Add(l.lease).UnixNano(), sendID, l.replica, rcptSending, l.d.IDList(ids))
	if err != nil {
		return fmt.Errorf("renewing the claim on recipients of %s: %w", sendID, err)
	}
	return nil
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

// claim takes up to limit recipients whose turn has come (pending and due,
// or held by a replica whose lease ran out), in id order after afterID, and
// marks them sending under this replica's lease. Recipients who are no
// longer confirmed (unsubscribed, bounced or erased since the snapshot) are
// marked skipped instead. On PostgreSQL, rows another replica is claiming at
// the same moment are passed over (SKIP LOCKED), so replicas sharing a send
// take disjoint pages without waiting for each other.
func (l *ledger) claim(ctx context.Context, sendID string, afterID int64, limit int) ([]recipient, int64, error) {
	now := l.now().UTC()
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	defer tx.Rollback()
	// The rows first, then their subscribers by id: joining in one query
	// let PostgreSQL's planner hash-join the whole subscribers table for
	// every page.
	rows, err := tx.QueryContext(ctx, `SELECT r.subscriber_id, r.attempts FROM email_recipients r
		WHERE r.send_id = $1 AND r.subscriber_id > $3
			AND ((r.state = $2 AND (r.next_try_at IS NULL OR r.next_try_at <= $4)) OR (r.state = $6 AND r.lease_until < $7))
		ORDER BY r.subscriber_id LIMIT $5`+l.d.SkipLocked("r"), sendID, rcptPending, afterID, now, limit, rcptSending, now.UnixNano())
	if err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	var page []recipient
	var ids []int64
	for rows.Next() {
		var r recipient
		if err := rows.Scan(&r.id, &r.attempts); err != nil {
			rows.Close()
			return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
		}
		page = append(page, r)
		ids = append(ids, r.id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	subs, err := subscribers.Contacts(ctx, tx, l.d, ids)
	if err != nil {
		return nil, afterID, fmt.Errorf("claiming recipients of %s: %w", sendID, err)
	}
	var out []recipient
	var skipped, taken []int64
	last := afterID
	for _, r := range page {
		last = r.id
		r.checkedAt = now
		s := subs[r.id] // erased: the zero value, not confirmed
		if !s.Reachable() {
			// Left the list, or paused, since the snapshot.
			skipped = append(skipped, r.id)
			continue
		}
		r.email, r.name, r.language = s.Email, s.Name, s.Language
		out = append(out, r)
		taken = append(taken, r.id)
	}
	if len(skipped) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1, last_error = 'left the list before their turn'
			WHERE send_id = $2 AND `+l.d.InIDs("subscriber_id", "$3"), rcptSkipped, sendID, l.d.IDList(skipped)); err != nil {
			return nil, afterID, fmt.Errorf("skipping recipients of %s: %w", sendID, err)
		}
	}
	if len(taken) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE email_recipients SET state = $1, claimed_by = $2, lease_until = $3
			WHERE send_id = $4 AND `+l.d.InIDs("subscriber_id", "$5"),
			rcptSending, l.replica, now.Add(l.lease).UnixNano(), sendID, l.d.IDList(taken)); err != nil {
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
	return l.status.Confirmed(ctx, id)
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
		ids := make([]int64, len(marks))
		var at time.Time
		for i, m := range marks {
			ids[i] = m.id
			if m.at.After(at) {
				at = m.at
			}
		}
		if _, err := tx.StmtContext(ctx, l.sentStmt).ExecContext(ctx, at.UTC(), sendID, l.d.IDList(ids)); err != nil {
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

// markSentBatch checkpoints accepted messages in the ledger in one
// statement (PostgreSQL, where there is no journal file), with the latest of
// their times as sent_at, as a fold does. It is committed even if the
// attempt's context is ending: the server already has the messages.
func (l *ledger) markSentBatch(ctx context.Context, sendID string, marks []sentMark) error {
	ids := make([]int64, len(marks))
	var at time.Time
	for i, m := range marks {
		ids[i] = m.id
		if m.at.After(at) {
			at = m.at
		}
	}
	if _, err := l.sentStmt.ExecContext(context.WithoutCancel(ctx), at.UTC(), sendID, l.d.IDList(ids)); err != nil {
		return fmt.Errorf("recording %d messages of %s as sent: %w", len(marks), sendID, err)
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

// releaseIDs puts recipients of a send back to pending, untouched
// (messages not started when the attempt stopped).
func (l *ledger) releaseIDs(ctx context.Context, sendID string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET state = $1, next_try_at = NULL
		WHERE send_id = $2 AND `+l.d.InIDs("subscriber_id", "$3"), rcptPending, sendID, l.d.IDList(ids))
	if err != nil {
		return fmt.Errorf("putting %d recipients of %s back: %w", len(ids), sendID, err)
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
	err := l.db.QueryRowContext(ctx, `SELECT next_try_at FROM email_recipients WHERE send_id = $1 AND state = $2 ORDER BY next_try_at NULLS FIRST LIMIT 1`, sendID, rcptPending).Scan(&t)
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

// finish marks the send done (once: a send another replica finished keeps
// its finish time).
func (l *ledger) finish(ctx context.Context, sendID string) error {
	now := l.now().UTC()
	_, err := l.db.ExecContext(ctx, `UPDATE email_sends SET state = $1, updated_at = $2, finished_at = $2 WHERE id = $3 AND state != $1`, sendDone, now, sendID)
	if err != nil {
		return fmt.Errorf("finishing send %s: %w", sendID, err)
	}
	return nil
}

// finishIfDone marks the send done when none of its recipients is left
// pending or in hand, and reports whether this call did. Any replica may
// call it: rows that are sent, failed or skipped never change again, so
// the answer cannot be undone by another replica.
func (l *ledger) finishIfDone(ctx context.Context, sendID string) (bool, error) {
	now := l.now().UTC()
	res, err := l.db.ExecContext(ctx, `UPDATE email_sends SET state = $1, updated_at = $2, finished_at = $2
		WHERE id = $3 AND state = $4 AND NOT EXISTS (
			SELECT 1 FROM email_recipients WHERE send_id = $3 AND state IN ($5, $6))`,
		sendDone, now, sendID, sendSending, rcptPending, rcptSending)
	if err != nil {
		return false, fmt.Errorf("finishing send %s: %w", sendID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
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
	exists, err := sqldb.DialectOf(db).TableExists(ctx, db, "email_sends")
	if err != nil {
		return nil, fmt.Errorf("reading newsletter sends: %w", err)
	}
	if !exists {
		return nil, nil
	}
	return progress(ctx, db, "")
}

// SendProgressOf is SendProgress of the sends of ref (a post's id) only,
// however many sends came after them.
func SendProgressOf(ctx context.Context, db *sql.DB, ref string) ([]Progress, error) {
	exists, err := sqldb.DialectOf(db).TableExists(ctx, db, "email_sends")
	if err != nil || !exists {
		return nil, err
	}
	return progress(ctx, db, "ref = $1", ref)
}

// progress reads the newest 20 sends matching where ("" for all, with args
// for its parameters) with their per-state counts.
func progress(ctx context.Context, db *sql.DB, where string, args ...any) ([]Progress, error) {
	if where != "" {
		where = "WHERE " + where
	}
	rows, err := db.QueryContext(ctx, `SELECT id, kind, ref, subject, state, total, created_at, finished_at FROM email_sends `+where+` ORDER BY created_at DESC, id LIMIT 20`, args...)
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
		if p.Unsubscribed, err = unsubscribedAfter(ctx, db, p.SendID); err != nil {
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
	rows, err := db.QueryContext(ctx, `SELECT subscriber_id, last_error FROM email_recipients
		WHERE send_id = $1 AND state = $2 ORDER BY subscriber_id LIMIT 5`, sendID, rcptFailed)
	if err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
	}
	defer rows.Close()
	var out []Failure
	var ids []int64
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.SubscriberID, &f.Reason); err != nil {
			return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
		}
		out = append(out, f)
		ids = append(ids, f.SubscriberID)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
	}
	rows.Close()
	// Erased supporters are not there: their failures show no address.
	contacts, err := subscribers.Contacts(ctx, db, sqldb.DialectOf(db), ids)
	if err != nil {
		return nil, fmt.Errorf("reading failures of %s: %w", sendID, err)
	}
	for i := range out {
		out[i].Email = contacts[out[i].SubscriberID].Email
	}
	return out, nil
}

// unsubscribedAfter counts the send's recipients whose unsubscribe came
// after their copy of this send and before any later newsletter to them.
func unsubscribedAfter(ctx context.Context, db *sql.DB, sendID string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT r.subscriber_id) FROM email_recipients r
		JOIN (`+subscribers.UnsubscribesQuery+`) e ON e.subscriber_id = r.subscriber_id AND e.at >= r.sent_at
		WHERE r.send_id = $1 AND r.state = 'sent'
		AND NOT EXISTS (SELECT 1 FROM email_recipients r2 WHERE r2.subscriber_id = r.subscriber_id
			AND r2.send_id != r.send_id AND r2.sent_at > r.sent_at AND r2.sent_at <= e.at)`, sendID).Scan(&n)
	if err != nil {
		if ok, _ := subscribers.HasConsentRecords(ctx, db); !ok {
			return 0, nil
		}
		return 0, fmt.Errorf("counting unsubscribes after %s: %w", sendID, err)
	}
	return n, nil
}
