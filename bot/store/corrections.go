package store

// The corrections history (issue 23): every correction and withdrawal of a
// published post, who asked and approved it, and per channel what the
// network did. The bot's correction jobs write it; the console and crier
// status read it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// Kinds of correction rows.
const (
	KindCorrection = "correction"
	KindWithdrawal = "withdrawal"
)

// States of a correction (the request) and of its per-channel results.
const (
	CorrectionAwaiting = "awaiting approval"
	CorrectionQueued   = "queued"
	CorrectionDone     = "done"
	CorrectionFailed   = "failed"
)

// DeliveryWithdrawn is a delivery cancelled before it was sent because its
// post was withdrawn: it is never sent.
const DeliveryWithdrawn DeliveryState = "withdrawn"

// CorrectionOptions are what an organiser chose for one correction.
type CorrectionOptions struct {
	// Styles picks a style per channel that offers several (Bluesky).
	Styles map[string]channels.CorrectionStyle `json:"styles,omitempty"`
	// Mail sends the newsletter's correction mail to the original recipients.
	Mail bool `json:"mail,omitempty"`
}

// Correction is one correction or withdrawal of a post, with its results.
type Correction struct {
	PostID   string `json:"post_id"`
	Revision int    `json:"revision"`
	Kind     string `json:"kind"`
	By       string `json:"by"`
	// Note is what was corrected, or why the post was withdrawn.
	Note string `json:"note,omitempty"`
	// Changes names the post's fields the correction changed ("title",
	// "body"), for the history.
	Changes []string `json:"changes,omitempty"`
	// Corrected is the post as corrected (zero for a withdrawal).
	Corrected  post.Post          `json:"-"`
	Options    CorrectionOptions  `json:"options"`
	State      string             `json:"state"`
	ApprovedBy string             `json:"approved_by,omitempty"`
	CreatedAt  time.Time          `json:"created_at"`
	UpdatedAt  time.Time          `json:"updated_at"`
	Results    []CorrectionResult `json:"results"`
}

// CorrectionResult is one channel's part of a correction or withdrawal.
type CorrectionResult struct {
	PostID    string                `json:"-"`
	Revision  int                   `json:"-"`
	Channel   string                `json:"channel"`
	State     string                `json:"state"`
	Attempts  int                   `json:"attempts"`
	LastError string                `json:"last_error,omitempty"`
	ErrorKind string                `json:"error_kind,omitempty"`
	Parts     []channels.PartResult `json:"parts,omitempty"`
	// Note says what happened in plain words where the parts do not ("not
	// sent yet: it goes out corrected").
	Note      string    `json:"note,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AddCorrectionTx records c under the post's next revision, with a result
// row per channel (queued, or awaiting approval with c.State), and returns
// the revision.
func AddCorrectionTx(ctx context.Context, tx *sql.Tx, c Correction, chans []string, now time.Time) (int, error) {
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(revision) FROM corrections WHERE post_id = $1`, c.PostID).Scan(&last); err != nil {
		return 0, fmt.Errorf("numbering the correction of %s: %w", c.PostID, err)
	}
	rev := int(last.Int64) + 1
	if len(chans) == 0 && c.State == CorrectionQueued {
		c.State = CorrectionDone // nothing went out anywhere (a scheduled post withdrawn)
	}
	corrected := ""
	if c.Kind == KindCorrection {
		data, err := json.Marshal(c.Corrected)
		if err != nil {
			return 0, fmt.Errorf("encoding the correction of %s: %w", c.PostID, err)
		}
		corrected = string(data)
	}
	changes, _ := json.Marshal(c.Changes)
	opts, _ := json.Marshal(c.Options)
	if _, err := tx.ExecContext(ctx, `INSERT INTO corrections (post_id, revision, kind, requested_by, note, changes, corrected, options, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		c.PostID, rev, c.Kind, c.By, c.Note, string(changes), corrected, string(opts), c.State, now.UTC()); err != nil {
		return 0, fmt.Errorf("recording the %s of %s: %w", c.Kind, c.PostID, err)
	}
	for _, ch := range chans {
		if _, err := tx.ExecContext(ctx, `INSERT INTO correction_results (post_id, revision, channel, state, updated_at) VALUES ($1, $2, $3, $4, $5)`,
			c.PostID, rev, ch, c.State, now.UTC()); err != nil {
			return 0, fmt.Errorf("recording the %s of %s on %s: %w", c.Kind, c.PostID, ch, err)
		}
	}
	return rev, nil
}

// ApproveTx lets a correction awaiting approval go out: it and its results
// become queued. A correction not awaiting approval is an error saying so.
func ApproveTx(ctx context.Context, tx *sql.Tx, postID string, rev int, by string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE corrections SET state = $1, approved_by = $2, updated_at = $3 WHERE post_id = $4 AND revision = $5 AND state = $6`,
		CorrectionQueued, by, now.UTC(), postID, rev, CorrectionAwaiting)
	if err != nil {
		return fmt.Errorf("approving correction %d of %s: %w", rev, postID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("correction %d of %s is not awaiting approval: %w", rev, postID, ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE correction_results SET state = $1, updated_at = $2 WHERE post_id = $3 AND revision = $4`,
		CorrectionQueued, now.UTC(), postID, rev); err != nil {
		return fmt.Errorf("approving correction %d of %s: %w", rev, postID, err)
	}
	return nil
}

// SupersededTx reports whether a correction or withdrawal of postID later
// than rev has been let go out (queued, done or failed): approving rev then
// would undo it.
func SupersededTx(ctx context.Context, tx *sql.Tx, postID string, rev int) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM corrections WHERE post_id = $1 AND revision > $2 AND state <> $3`,
		postID, rev, CorrectionAwaiting).Scan(&n); err != nil {
		return false, fmt.Errorf("reading the corrections of %s after %d: %w", postID, rev, err)
	}
	return n > 0, nil
}

// CorrectionTx reads one correction (without results) inside tx.
func CorrectionTx(ctx context.Context, tx *sql.Tx, postID string, rev int) (Correction, error) {
	return readCorrection(ctx, tx, postID, rev)
}

// Correction reads one correction with its results, or ErrNotFound.
func (s *Store) Correction(ctx context.Context, postID string, rev int) (Correction, error) {
	c, err := readCorrection(ctx, s.db, postID, rev)
	if err != nil {
		return c, err
	}
	c.Results, err = s.correctionResults(ctx, postID, rev)
	return c, err
}

const correctionColumns = `post_id, revision, kind, requested_by, note, changes, corrected, options, state, approved_by, created_at, updated_at`

func readCorrection(ctx context.Context, db rowQuerier, postID string, rev int) (Correction, error) {
	c, err := scanCorrection(db.QueryRowContext(ctx, `SELECT `+correctionColumns+` FROM corrections WHERE post_id = $1 AND revision = $2`, postID, rev))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("correction %d of %s: %w", rev, postID, ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("reading correction %d of %s: %w", rev, postID, err)
	}
	return c, nil
}

func scanCorrection(row scanner) (Correction, error) {
	var c Correction
	var changes, corrected, opts string
	if err := row.Scan(&c.PostID, &c.Revision, &c.Kind, &c.By, &c.Note, &changes, &corrected, &opts, &c.State, &c.ApprovedBy, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return c, err
	}
	_ = json.Unmarshal([]byte(changes), &c.Changes)
	_ = json.Unmarshal([]byte(opts), &c.Options)
	if corrected != "" {
		if err := json.Unmarshal([]byte(corrected), &c.Corrected); err != nil {
			return c, fmt.Errorf("decoding the corrected post: %w", err)
		}
	}
	return c, nil
}

// Corrections lists a post's corrections and withdrawals, newest first,
// each with its results.
func (s *Store) Corrections(ctx context.Context, postID string) ([]Correction, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+correctionColumns+` FROM corrections WHERE post_id = $1 ORDER BY revision DESC`, postID)
	if err != nil {
		return nil, fmt.Errorf("listing corrections of %s: %w", postID, err)
	}
	var out []Correction
	for rows.Next() {
		c, err := scanCorrection(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("listing corrections of %s: %w", postID, err)
		}
		out = append(out, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing corrections of %s: %w", postID, err)
	}
	for i := range out {
		if out[i].Results, err = s.correctionResults(ctx, postID, out[i].Revision); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const resultColumns = `post_id, revision, channel, state, attempts, last_error, error_kind, parts, note, updated_at`

func scanResult(row scanner) (CorrectionResult, error) {
	var r CorrectionResult
	var parts string
	if err := row.Scan(&r.PostID, &r.Revision, &r.Channel, &r.State, &r.Attempts, &r.LastError, &r.ErrorKind, &parts, &r.Note, &r.UpdatedAt); err != nil {
		return r, err
	}
	if parts != "" {
		_ = json.Unmarshal([]byte(parts), &r.Parts)
	}
	return r, nil
}

func (s *Store) correctionResults(ctx context.Context, postID string, rev int) ([]CorrectionResult, error) {
	return queryResults(ctx, s.db, `SELECT `+resultColumns+` FROM correction_results WHERE post_id = $1 AND revision = $2 ORDER BY channel`, postID, rev)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryResults(ctx context.Context, db querier, q string, args ...any) ([]CorrectionResult, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading correction results: %w", err)
	}
	defer rows.Close()
	var out []CorrectionResult
	for rows.Next() {
		r, err := scanResult(rows)
		if err != nil {
			return nil, fmt.Errorf("reading correction results: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CorrectionResult reads one channel's result, or ErrNotFound.
func (s *Store) CorrectionResult(ctx context.Context, postID string, rev int, channel string) (CorrectionResult, error) {
	r, err := scanResult(s.db.QueryRowContext(ctx, `SELECT `+resultColumns+` FROM correction_results WHERE post_id = $1 AND revision = $2 AND channel = $3`, postID, rev, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("correction %d of %s on %s: %w", rev, postID, channel, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("reading correction %d of %s on %s: %w", rev, postID, channel, err)
	}
	return r, nil
}

// UnfinishedCorrections lists the queued results, for the start-up check
// that each still has a job.
func (s *Store) UnfinishedCorrections(ctx context.Context) ([]CorrectionResult, error) {
	return queryResults(ctx, s.db, `SELECT `+resultColumns+` FROM correction_results WHERE state = $1 ORDER BY updated_at`, CorrectionQueued)
}

// StartCorrection counts an attempt of one channel's operation.
func (s *Store) StartCorrection(ctx context.Context, postID string, rev int, channel string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE correction_results SET attempts = attempts + 1, updated_at = $1 WHERE post_id = $2 AND revision = $3 AND channel = $4`,
		now.UTC(), postID, rev, channel); err != nil {
		return fmt.Errorf("starting correction %d of %s on %s: %w", rev, postID, channel, err)
	}
	return nil
}

// FinishCorrection records one channel's outcome (state done, failed, or
// queued for a retry) and brings the correction's own state along: done
// when every channel is, failed when one failed and none is left.
func (s *Store) FinishCorrection(ctx context.Context, r CorrectionResult, now time.Time) error {
	return finishCorrection(ctx, s.db, r, now)
}

// FinishCorrectionTx is FinishCorrection inside a transaction.
func FinishCorrectionTx(ctx context.Context, tx *sql.Tx, r CorrectionResult, now time.Time) error {
	return finishCorrection(ctx, tx, r, now)
}

func finishCorrection(ctx context.Context, db execer, r CorrectionResult, now time.Time) error {
	parts := ""
	if len(r.Parts) > 0 {
		data, _ := json.Marshal(r.Parts)
		parts = string(data)
	}
	if _, err := db.ExecContext(ctx, `UPDATE correction_results SET state = $1, last_error = $2, error_kind = $3, note = $4, updated_at = $5,
		parts = CASE WHEN $6 != '' THEN $6 ELSE parts END
		WHERE post_id = $7 AND revision = $8 AND channel = $9`,
		r.State, r.LastError, r.ErrorKind, r.Note, now.UTC(), parts, r.PostID, r.Revision, r.Channel); err != nil {
		return fmt.Errorf("recording correction %d of %s on %s: %w", r.Revision, r.PostID, r.Channel, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE corrections SET updated_at = $1, state = CASE
			WHEN EXISTS (SELECT 1 FROM correction_results r WHERE r.post_id = $2 AND r.revision = $3 AND r.state IN ($4, $5)) THEN state
			WHEN EXISTS (SELECT 1 FROM correction_results r WHERE r.post_id = $2 AND r.revision = $3 AND r.state = $6) THEN $6
			ELSE $7 END
		WHERE post_id = $2 AND revision = $3`,
		now.UTC(), r.PostID, r.Revision, CorrectionQueued, CorrectionAwaiting, CorrectionFailed, CorrectionDone); err != nil {
		return fmt.Errorf("recording correction %d of %s: %w", r.Revision, r.PostID, err)
	}
	return nil
}

// WithdrawPostTx cancels the deliveries of a post to chans that are not
// sent yet (nor being sent), so no job sends them; with chans nil, every
// delivery, and the post itself is marked withdrawn: never scheduled or
// sent again.
func WithdrawPostTx(ctx context.Context, tx *sql.Tx, postID string, chans []string, now time.Time) error {
	q := `UPDATE deliveries SET state = $1, updated_at = $2 WHERE post_id = $3 AND state IN ($4, $5)`
	if chans == nil {
		if _, err := tx.ExecContext(ctx, `UPDATE posts SET state = $1, updated_at = $2 WHERE id = $3`, string(PostWithdrawn), now.UTC(), postID); err != nil {
			return fmt.Errorf("withdrawing %s: %w", postID, err)
		}
		chans = []string{""}
	} else {
		q += ` AND channel = $6`
	}
	for _, ch := range chans {
		args := []any{string(DeliveryWithdrawn), now.UTC(), postID, string(DeliveryPending), string(DeliveryFailed)}
		if ch != "" {
			args = append(args, ch)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("cancelling the deliveries of %s: %w", postID, err)
		}
	}
	return nil
}

// PartsTx is Parts inside a transaction.
func PartsTx(ctx context.Context, tx *sql.Tx, postID, channel string) ([]channels.Part, error) {
	return readParts(ctx, tx, postID, channel)
}

// ResultsTx lists one correction's results inside a transaction.
func ResultsTx(ctx context.Context, tx *sql.Tx, postID string, rev int) ([]CorrectionResult, error) {
	return queryResults(ctx, tx, `SELECT `+resultColumns+` FROM correction_results WHERE post_id = $1 AND revision = $2 ORDER BY channel`, postID, rev)
}

// HasWithdrawal reports whether an organiser withdrew the post: its
// source must not bring it back.
func (s *Store) HasWithdrawal(ctx context.Context, postID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM corrections WHERE post_id = $1 AND kind = $2 LIMIT 1`, postID, KindWithdrawal).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading whether %s was withdrawn: %w", postID, err)
	}
	return true, nil
}

// SetDeliveryWithdrawn cancels one delivery that is not sent: its job ends
// without sending.
func (s *Store) SetDeliveryWithdrawn(ctx context.Context, postID, channel string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE deliveries SET state = $1, updated_at = $2 WHERE post_id = $3 AND channel = $4 AND state != $5`,
		string(DeliveryWithdrawn), now.UTC(), postID, channel, string(DeliverySent)); err != nil {
		return fmt.Errorf("cancelling the delivery of %s to %s: %w", postID, channel, err)
	}
	return nil
}

// DeliveriesTx is Deliveries inside a transaction.
func DeliveriesTx(ctx context.Context, tx *sql.Tx, postID string) ([]Delivery, error) {
	rows, err := tx.QueryContext(ctx, `SELECT post_id, channel, state, attempts, last_error, error_kind, remote_id, remote_url, outbox, unconfirmed, note, updated_at
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

// SetChanged records how a published post reads at its source now (p), or
// that it reads as published (nil).
func (s *Store) SetChanged(ctx context.Context, postID string, p *post.Post) error {
	return setChanged(ctx, s.db, postID, p)
}

// SetChangedTx is SetChanged inside a transaction.
func SetChangedTx(ctx context.Context, tx *sql.Tx, postID string, p *post.Post) error {
	return setChanged(ctx, tx, postID, p)
}

func setChanged(ctx context.Context, db execer, postID string, p *post.Post) error {
	data := ""
	if p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("encoding how %s reads now: %w", postID, err)
		}
		data = string(b)
	}
	if _, err := db.ExecContext(ctx, `UPDATE posts SET changed = $1 WHERE id = $2`, data, postID); err != nil {
		return fmt.Errorf("recording that %s changed at its source: %w", postID, err)
	}
	return nil
}

// Changed returns how a published post reads at its source now, when the
// source changed since (a feed item edited on the website).
func (s *Store) Changed(ctx context.Context, postID string) (post.Post, bool, error) {
	var data string
	err := s.db.QueryRowContext(ctx, `SELECT changed FROM posts WHERE id = $1`, postID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return post.Post{}, false, fmt.Errorf("post %s: %w", postID, ErrNotFound)
	}
	if err != nil {
		return post.Post{}, false, fmt.Errorf("reading whether %s changed: %w", postID, err)
	}
	if data == "" {
		return post.Post{}, false, nil
	}
	var p post.Post
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return p, false, fmt.Errorf("decoding how %s reads now: %w", postID, err)
	}
	return p, true, nil
}

// ReplaceParts records that a delivery's messages are now parts (a
// correction deleted them and posted the corrected post anew), so later
// corrections, withdrawals and reach act on the new ones.
func (s *Store) ReplaceParts(ctx context.Context, postID, channel string, parts []channels.Part, now time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("replacing the parts of %s to %s: %w", postID, channel, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM delivery_parts WHERE post_id = $1 AND channel = $2`, postID, channel); err != nil {
		return fmt.Errorf("replacing the parts of %s to %s: %w", postID, channel, err)
	}
	for _, p := range parts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO delivery_parts (post_id, channel, idx, remote_id, remote_url, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			postID, channel, p.Index, p.RemoteID, p.RemoteURL, now.UTC()); err != nil {
			return fmt.Errorf("replacing the parts of %s to %s: %w", postID, channel, err)
		}
		if p.Index == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET remote_id = $1, remote_url = $2 WHERE post_id = $3 AND channel = $4`,
				p.RemoteID, p.RemoteURL, postID, channel); err != nil {
				return fmt.Errorf("replacing the parts of %s to %s: %w", postID, channel, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("replacing the parts of %s to %s: %w", postID, channel, err)
	}
	return nil
}

// WithdrawnTx lists the channels a post was withdrawn from.
func WithdrawnTx(ctx context.Context, tx *sql.Tx, postID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT r.channel FROM correction_results r JOIN corrections c ON c.post_id = r.post_id AND c.revision = r.revision
		WHERE r.post_id = $1 AND c.kind = $2 ORDER BY r.channel`, postID, KindWithdrawal)
	if err != nil {
		return nil, fmt.Errorf("listing where %s was withdrawn: %w", postID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ch string
		if err := rows.Scan(&ch); err != nil {
			return nil, fmt.Errorf("listing where %s was withdrawn: %w", postID, err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}
