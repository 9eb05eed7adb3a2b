package subscribers

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/crierhq/crier/sqldb"
)

// What the newsletter engine reads of the supporters while it sends. The
// subscribers package owns their tables, so their SQL is here; where a send
// needs the supporters inside one of its own statements (the snapshot of a
// send's recipients is one INSERT … SELECT however long the list), this
// package hands out the read-only query to embed rather than the engine
// writing it.

// Selection says which confirmed supporters a newsletter goes to.
type Selection struct {
	// Preferences are the preferences it goes to (EveryPost, Digest).
	Preferences []string
	// General is true for a newsletter with a post on no topic: it goes
	// whatever the topics a supporter chose.
	General bool
	// AllTopics are the configured topics, Topics those of the newsletter.
	AllTopics, Topics []string
}

// SelectedIDs is the query of the ids of the confirmed supporters sel
// selects, and its arguments, numbered from $first: the preference, and
// the topics - a supporter who chose none of the configured topics (lists
// from an import that are not topics do not count) gets every newsletter.
// It runs once per send, in the query that snapshots the list, so the send
// itself never filters per recipient.
func SelectedIDs(d sqldb.Dialect, sel Selection, first int) (string, []any) {
	p := func(i int) int { return first + i }
	args := []any{jsonList(sel.Preferences), sel.General, jsonList(sel.AllTopics), jsonList(sel.Topics)}
	if d == sqldb.Postgres {
		return fmt.Sprintf(`SELECT id FROM subscribers WHERE status = 'confirmed' AND preference IN (SELECT jsonb_array_elements_text($%d::jsonb))
	AND ($%d::boolean OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(subscribers.lists::jsonb) l(value) WHERE l.value IN (SELECT jsonb_array_elements_text($%d::jsonb)))
		OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(subscribers.lists::jsonb) l(value) WHERE l.value IN (SELECT jsonb_array_elements_text($%d::jsonb))))`,
			p(0), p(1), p(2), p(3)), args
	}
	return fmt.Sprintf(`SELECT id FROM subscribers WHERE status = 'confirmed' AND preference IN (SELECT value FROM json_each($%d))
	AND ($%d OR NOT EXISTS (SELECT 1 FROM json_each(subscribers.lists) l WHERE l.value IN (SELECT value FROM json_each($%d)))
		OR EXISTS (SELECT 1 FROM json_each(subscribers.lists) l WHERE l.value IN (SELECT value FROM json_each($%d))))`,
		p(0), p(1), p(2), p(3)), args
}

// jsonList is l as a JSON array, never null.
func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// Contact is what a send needs of one supporter when their turn comes.
type Contact struct {
	Email, Name, Language string
	Status                Status
	Preference            Preference
}

// Reachable reports whether the supporter may be sent a newsletter now:
// confirmed and not paused.
func (c Contact) Reachable() bool { return c.Status == Confirmed && c.Preference != Paused }

// Reader is a *sql.DB or *sql.Tx: a send reads its page's contacts inside
// the transaction that claims the page (SQLite has one connection).
type Reader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Contacts reads the supporters of ids, by id; an id that is not there
// (erased) is left out.
func Contacts(ctx context.Context, q Reader, d sqldb.Dialect, ids []int64) (map[int64]Contact, error) {
	out := make(map[int64]Contact, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT id, email, name, status, language, preference FROM subscribers WHERE `+d.InIDs("id", "$1"), d.IDList(ids))
	if err != nil {
		return nil, fmt.Errorf("reading %d supporters: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c Contact
		if err := rows.Scan(&id, &c.Email, &c.Name, &c.Status, &c.Language, &c.Preference); err != nil {
			return nil, fmt.Errorf("reading %d supporters: %w", len(ids), err)
		}
		out[id] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %d supporters: %w", len(ids), err)
	}
	return out, nil
}

// StatusCheck answers "still confirmed?" with one prepared statement: a
// send asks it right before a message whose last answer is older than a
// second.
type StatusCheck struct{ stmt *sql.Stmt }

// NewStatusCheck prepares the check on db.
func NewStatusCheck(ctx context.Context, db *sql.DB) (*StatusCheck, error) {
	stmt, err := db.PrepareContext(ctx, `SELECT status FROM subscribers WHERE id = $1`)
	if err != nil {
		return nil, fmt.Errorf("preparing the supporters' status check: %w", err)
	}
	return &StatusCheck{stmt: stmt}, nil
}

// Confirmed reports whether supporter id is confirmed; an erased one is not.
func (c *StatusCheck) Confirmed(ctx context.Context, id int64) (bool, error) {
	var status string
	err := c.stmt.QueryRowContext(ctx, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking subscriber %d: %w", id, err)
	}
	return Status(status) == Confirmed, nil
}

// UnsubscribesQuery is the query of the supporters' unsubscribes (link,
// one-click, mail; complaints not included) as rows (subscriber_id, at),
// for the newsletter's count of who left after a send.
const UnsubscribesQuery = `SELECT subscriber_id, at FROM consent_events WHERE event = 'unsubscribed' AND source NOT LIKE 'complaint%'`

// HasConsentRecords reports whether db has the supporters' consent records
// (their tables are made when the newsletter first runs).
func HasConsentRecords(ctx context.Context, db *sql.DB) (bool, error) {
	return sqldb.DialectOf(db).TableExists(ctx, db, "consent_events")
}

// Other packages keep rows per supporter (the send ledger, the feedback
// ledger) that must go when the supporter is erased. Each writes its own
// trigger, on the event this package names, so that the SQL naming the
// supporters' table stays here.
const (
	// OnErase is the event of a trigger on a supporter's erasure (their
	// row deleted): "CREATE TRIGGER name "+OnErase+" …", with OLD.id the
	// supporter.
	OnErase = "AFTER DELETE ON subscribers"
	// AllIDs is the query of every supporter's id, for dropping the rows
	// of supporters erased before such a trigger existed.
	AllIDs = "SELECT id FROM subscribers"
)
