package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// DeliveryState is where one (post, channel) delivery stands.
type DeliveryState string

const (
	DeliveryPending DeliveryState = "pending"
	DeliverySending DeliveryState = "sending"
	DeliverySent    DeliveryState = "sent"
	DeliveryFailed  DeliveryState = "failed"
	// DeliveryUnknown is an attempt whose outcome is ambiguous; the next
	// attempt checks the remote side before sending again.
	DeliveryUnknown DeliveryState = "unknown"
	// DeliverySkipped is a delivery the channel declined by design
	// (channels.Skip: an Instagram post without a picture when title cards
	// are off): nothing went out, it is not a failure, and it is never
	// sent again; LastError holds the note that says why.
	DeliverySkipped DeliveryState = "skipped"
)

// Done reports whether d is finished for good without waiting for anyone:
// sent, withdrawn or skipped. Such a delivery is never sent again.
func (d Delivery) Done() bool {
	return d.State == DeliverySent || d.State == DeliveryWithdrawn || d.State == DeliverySkipped
}

// A delivery to a channel that cannot check whether an earlier attempt went
// out (channels.BlindSender) and may have sent is failed with error kind
// ambiguous: it waits for an organiser, who confirms it (ConfirmSent) or
// has it sent again (ResendTx).
const waitsForCheck = `state = 'failed' AND error_kind = 'ambiguous'`

// WaitsForCheck reports whether d waits for an organiser to say whether
// it went out.
func (d Delivery) WaitsForCheck() bool {
	return d.State == DeliveryFailed && d.ErrorKind == "ambiguous"
}

// Delivery is one row of the delivery ledger.
type Delivery struct {
	PostID    string        `json:"post_id"`
	Channel   string        `json:"channel"`
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	LastError string        `json:"last_error,omitempty"`
	// ErrorKind is the class of the last failed attempt (channels.Kind's
	// name: permanent, temporary, ambiguous, rate-limited); empty after a
	// success.
	ErrorKind string `json:"error_kind,omitempty"`
	RemoteID  string `json:"remote_id,omitempty"`
	RemoteURL string `json:"remote_url,omitempty"`
	// Outbox is set when the channel renders to the local outbox: "sent"
	// then means rendered there, not sent to anyone.
	Outbox bool `json:"outbox"`
	// Unconfirmed is set from an ambiguous attempt until one succeeds.
	Unconfirmed bool `json:"unconfirmed"`
	// Note says what the last attempt left out although it succeeded (an
	// image that could not be fetched), from channels.Receipt.Notes.
	Note      string    `json:"note,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AddDelivery records a pending delivery; an existing one is left as it is
// (a post is never delivered twice to a channel). It reports whether the row
// was new or is still undelivered, i.e. whether a job should be queued.
func AddDelivery(ctx context.Context, tx *sql.Tx, postID, channel string, outbox bool, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, outbox, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (post_id, channel) DO NOTHING`,
		postID, channel, string(DeliveryPending), outbox, now.UTC())
	if err != nil {
		return false, fmt.Errorf("recording delivery of %s to %s: %w", postID, channel, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT state FROM deliveries WHERE post_id = $1 AND channel = $2`, postID, channel).Scan(&state); err != nil {
		return false, fmt.Errorf("reading delivery of %s to %s: %w", postID, channel, err)
	}
	// A withdrawn or skipped delivery is never sent again.
	return !(Delivery{State: DeliveryState(state)}).Done(), nil
}

// SavePostTx is SavePost inside a transaction.
func SavePostTx(ctx context.Context, tx *sql.Tx, p post.Post, state PostState, now time.Time) error {
	return saveThePost(ctx, tx, p, state, now)
}

// StateTx returns a post's state inside a transaction, "" when it is new.
func StateTx(ctx context.Context, tx *sql.Tx, id string) (PostState, error) {
	var state string
	err := tx.QueryRowContext(ctx, `SELECT state FROM posts WHERE id = $1`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading state of post %s: %w", id, err)
	}
	return PostState(state), nil
}

// Delivery reads one ledger row, or ErrNotFound.
func (s *Store) Delivery(ctx context.Context, postID, channel string) (Delivery, error) {
	row := s.db.QueryRowContext(ctx, `SELECT post_id, channel, state, attempts, last_error, error_kind, remote_id, remote_url, outbox, unconfirmed, note, updated_at
		FROM deliveries WHERE post_id = $1 AND channel = $2`, postID, channel)
	d, err := scanDelivery(row)
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery of %s to %s: %w", postID, channel, ErrNotFound)
	}
	if err != nil {
		return d, fmt.Errorf("reading delivery of %s to %s: %w", postID, channel, err)
	}
	return d, nil
}

func scanDelivery(row scanner) (Delivery, error) {
	var d Delivery
	var state string
	err := row.Scan(&d.PostID, &d.Channel, &state, &d.Attempts, &d.LastError, &d.ErrorKind, &d.RemoteID, &d.RemoteURL, &d.Outbox, &d.Unconfirmed, &d.Note, &d.UpdatedAt)
	d.State = DeliveryState(state)
	return d, err
}

// Deliveries returns a post's ledger rows.
func (s *Store) Deliveries(ctx context.Context, postID string) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, channel, state, attempts, last_error, error_kind, remote_id, remote_url, outbox, unconfirmed, note, updated_at
		FROM deliveries WHERE post_id = $1 ORDER BY channel`, postID)
	if err != nil {
		return nil, fmt.Errorf("listing deliveries of %s: %w", postID, err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("listing deliveries of %s: %w", postID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// StartAttempt marks a delivery as sending and returns it as it was before,
// so the caller knows whether the last attempt ended ambiguously.
func (s *Store) StartAttempt(ctx context.Context, postID, channel string, now time.Time) (Delivery, error) {
	before, err := s.Delivery(ctx, postID, channel)
	if err != nil {
		return before, err
	}
	if before.Done() {
		return before, nil
	}
	// A process that dies from here until FinishAttempt may or may not have
	// sent: the row stays unconfirmed until an attempt succeeds.
	// The state guard: a withdrawal (or another replica's success) that
	// landed since the read above wins, and the caller sees it.
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = $1, attempts = attempts + 1, unconfirmed = TRUE, updated_at = $2
		WHERE post_id = $3 AND channel = $4 AND state NOT IN ($5, $6, $7)`,
		string(DeliverySending), now.UTC(), postID, channel, string(DeliverySent), string(DeliveryWithdrawn), string(DeliverySkipped))
	if err != nil {
		return before, fmt.Errorf("starting delivery of %s to %s: %w", postID, channel, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return s.Delivery(ctx, postID, channel)
	}
	return before, nil
}

// FinishAttempt records an attempt's outcome, with the receipt's notes.
// lastErr and errKind are a failure's message and class (channels.Kind's
// name), empty for a success. unconfirmed says whether the remote side may
// hold a copy we have not confirmed; it is cleared only by a success.
func (s *Store) FinishAttempt(ctx context.Context, postID, channel string, state DeliveryState, r channels.Receipt, lastErr, errKind string, unconfirmed bool, now time.Time) error {
	if state == DeliverySent {
		unconfirmed = false
	}
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = $1, last_error = $2, unconfirmed = $8, note = $9, error_kind = $10,
		remote_id = CASE WHEN $3 != '' THEN $3 ELSE remote_id END,
		remote_url = CASE WHEN $4 != '' THEN $4 ELSE remote_url END,
		updated_at = $5 WHERE post_id = $6 AND channel = $7`,
		string(state), lastErr, r.RemoteID, r.RemoteURL, now.UTC(), postID, channel, unconfirmed, strings.Join(r.Notes, "; "), errKind)
	if err != nil {
		return fmt.Errorf("recording delivery of %s to %s as %s: %w", postID, channel, state, err)
	}
	return nil
}

// CountDeliveries counts ledger rows by state, for metrics and tests.
func (s *Store) CountDeliveries(ctx context.Context) (map[DeliveryState]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM deliveries GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("counting deliveries: %w", err)
	}
	defer rows.Close()
	out := map[DeliveryState]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("counting deliveries: %w", err)
		}
		out[DeliveryState(st)] = n
	}
	return out, rows.Err()
}

// Ledger is the channels.Ledger of one delivery.
func (s *Store) Ledger(postID, channel string, now func() time.Time) channels.Ledger {
	return &ledger{db: s.db, postID: postID, channel: channel, now: now}
}

type ledger struct {
	db              *sql.DB
	postID, channel string
	now             func() time.Time
}

func (l *ledger) Parts(ctx context.Context) ([]channels.Part, error) {
	return readParts(ctx, l.db, l.postID, l.channel)
}

func readParts(ctx context.Context, db querier, postID, channel string) ([]channels.Part, error) {
	rows, err := db.QueryContext(ctx, `SELECT idx, remote_id, remote_url FROM delivery_parts WHERE post_id = $1 AND channel = $2 ORDER BY idx`, postID, channel)
	if err != nil {
		return nil, fmt.Errorf("reading sent parts of %s to %s: %w", postID, channel, err)
	}
	defer rows.Close()
	var out []channels.Part
	for rows.Next() {
		var p channels.Part
		if err := rows.Scan(&p.Index, &p.RemoteID, &p.RemoteURL); err != nil {
			return nil, fmt.Errorf("reading sent parts of %s to %s: %w", postID, channel, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (l *ledger) SavePart(ctx context.Context, p channels.Part) error {
	// The part is saved even if the job's context is ending: the remote side
	// already has it, and forgetting it would mean sending it again.
	ctx = context.WithoutCancel(ctx)
	_, err := l.db.ExecContext(ctx, `INSERT INTO delivery_parts (post_id, channel, idx, remote_id, remote_url, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (post_id, channel, idx) DO UPDATE SET remote_id = excluded.remote_id, remote_url = excluded.remote_url`,
		l.postID, l.channel, p.Index, p.RemoteID, p.RemoteURL, l.now().UTC())
	if err != nil {
		return fmt.Errorf("recording part %d of %s to %s: %w", p.Index, l.postID, l.channel, err)
	}
	if p.Index == 0 {
		_, err = l.db.ExecContext(ctx, `UPDATE deliveries SET remote_id = $1, remote_url = $2 WHERE post_id = $3 AND channel = $4`,
			p.RemoteID, p.RemoteURL, l.postID, l.channel)
		if err != nil {
			return fmt.Errorf("recording remote id of %s to %s: %w", l.postID, l.channel, err)
		}
	}
	return nil
}

// Unfinished returns deliveries that are neither sent nor failed, for the
// start-up check that each still has a job to run it.
func (s *Store) Unfinished(ctx context.Context) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, channel, state, attempts, last_error, error_kind, remote_id, remote_url, outbox, unconfirmed, note, updated_at
		FROM deliveries WHERE state IN ('pending', 'sending', 'unknown') ORDER BY created_at`)
	if err != nil {
		return nil, fmt.Errorf("listing unfinished deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("listing unfinished deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RequeueTx sets a failed or skipped delivery back to pending for another
// try (an unknown one stays unknown: its next attempt checks the remote
// side).
func RequeueTx(ctx context.Context, tx *sql.Tx, postID, channel string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = $1, updated_at = $2 WHERE post_id = $3 AND channel = $4 AND state IN ($5, $6)`,
		string(DeliveryPending), now.UTC(), postID, channel, string(DeliveryFailed), string(DeliverySkipped))
	if err != nil {
		return fmt.Errorf("queueing delivery of %s to %s again: %w", postID, channel, err)
	}
	return nil
}

// ConfirmSent records, on an organiser's word, that a delivery waiting for
// a check went out: sent, with note saying who said so. It reports false
// when the delivery was not waiting for a check.
func (s *Store) ConfirmSent(ctx context.Context, postID, channel, note string, now time.Time) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = $1, unconfirmed = FALSE, last_error = '', error_kind = '', note = $2, updated_at = $3
		WHERE post_id = $4 AND channel = $5 AND `+waitsForCheck, string(DeliverySent), note, now.UTC(), postID, channel)
	if err != nil {
		return false, fmt.Errorf("recording delivery of %s to %s as sent: %w", postID, channel, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ResendTx sets a delivery waiting for a check back to pending as
// confirmed missing (an organiser looked), so that its next attempt
// sends. It reports false when the delivery was not waiting for a check.
func ResendTx(ctx context.Context, tx *sql.Tx, postID, channel string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = $1, unconfirmed = FALSE, updated_at = $2
		WHERE post_id = $3 AND channel = $4 AND `+waitsForCheck, string(DeliveryPending), now.UTC(), postID, channel)
	if err != nil {
		return false, fmt.Errorf("queueing delivery of %s to %s again: %w", postID, channel, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Parts lists the parts of a post sent to a channel (a thread's posts),
// in order.
func (s *Store) Parts(ctx context.Context, postID, channel string) ([]channels.Part, error) {
	return (&ledger{db: s.db, postID: postID, channel: channel}).Parts(ctx)
}

// SentSince returns the deliveries sent since t (their updated_at is when
// they were sent), oldest first: reach schedules the reads of those it has
// not yet.
func (s *Store) SentSince(ctx context.Context, t time.Time) ([]Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT post_id, channel, state, attempts, last_error, error_kind, remote_id, remote_url, outbox, unconfirmed, note, updated_at
		FROM deliveries WHERE state = $1 AND NOT outbox AND updated_at >= $2 ORDER BY updated_at, post_id, channel`, string(DeliverySent), t.UTC())
	if err != nil {
		return nil, fmt.Errorf("listing deliveries sent since %s: %w", t.Format(time.RFC3339), err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("listing deliveries sent since %s: %w", t.Format(time.RFC3339), err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
