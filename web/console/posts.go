package console

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/post"
)

// Kind is the source kind of posts written in the console.
const Kind = "console"

// Workflow is where a console post stands in the approval flow.
type Workflow string

const (
	WorkflowDraft     Workflow = "draft"
	WorkflowReview    Workflow = "review"
	WorkflowApproved  Workflow = "approved"
	WorkflowScheduled Workflow = "scheduled"
	WorkflowPublished Workflow = "published"
	WorkflowCancelled Workflow = "cancelled"
)

// Label is the workflow as organisers read it.
func (w Workflow) Label() string {
	switch w {
	case WorkflowReview:
		return "In review"
	case WorkflowApproved:
		return "Approved"
	case WorkflowScheduled:
		return "Scheduled"
	case WorkflowPublished:
		return "Published"
	case WorkflowCancelled:
		return "Cancelled (draft)"
	}
	return "Draft"
}

// Meta is the console's bookkeeping of one of its posts.
type Meta struct {
	PostID   string
	Workflow Workflow
	AuthorID int64
	Author   string
}

// Event is one recorded change to a post.
type Event struct {
	At     time.Time
	Actor  string
	Action string
	Detail string
}

func newPostID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "console:" + strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(b), "="))
}

func (c *Console) db() *sql.DB { return c.opts.Store.DB() }

// meta reads a console post's bookkeeping; ok is false for posts from other sources.
func (c *Console) meta(ctx context.Context, id string) (Meta, bool, error) {
	m := Meta{PostID: id}
	var wf string
	var author sql.NullInt64
	err := c.db().QueryRowContext(ctx, `SELECT workflow, author_id, author FROM console_posts WHERE post_id = $1`, id).Scan(&wf, &author, &m.Author)
	if errors.Is(err, sql.ErrNoRows) {
		return m, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("reading post %s: %w", id, err)
	}
	m.Workflow, m.AuthorID = Workflow(wf), author.Int64
	return m, true, nil
}

// postsInWorkflow lists the ids of the console posts in any of wfs.
func (c *Console) postsInWorkflow(ctx context.Context, wfs ...Workflow) ([]string, error) {
	args := make([]any, len(wfs))
	marks := make([]string, len(wfs))
	for i, wf := range wfs {
		args[i], marks[i] = string(wf), fmt.Sprintf("$%d", i+1)
	}
	rows, err := c.db().QueryContext(ctx, `SELECT post_id FROM console_posts WHERE workflow IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the review queue: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("reading the review queue: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// workflows reads the workflow of each console post among ids (a page of
// the posts list); other posts are left out.
func (c *Console) workflows(ctx context.Context, ids []string) (map[string]Workflow, error) {
	out := map[string]Workflow{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	marks := make([]string, len(ids))
	for i, id := range ids {
		args[i], marks[i] = id, fmt.Sprintf("$%d", i+1)
	}
	rows, err := c.db().QueryContext(ctx, `SELECT post_id, workflow FROM console_posts WHERE post_id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the posts' workflow: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, wf string
		if err := rows.Scan(&id, &wf); err != nil {
			return nil, fmt.Errorf("reading the posts' workflow: %w", err)
		}
		out[id] = Workflow(wf)
	}
	return out, rows.Err()
}

// saveConsolePost writes the post, its workflow and an event in one
// transaction. read, when not empty, is the revision the editor acted on
// (Schedule, Publish): nothing is written when the post changed since.
func (c *Console) saveConsolePost(ctx context.Context, p post.Post, state store.PostState, m Meta, actor, action, detail, read string) error {
	now := c.opts.Now().UTC()
	tx, err := c.db().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("saving post %s: %w", p.ID, err)
	}
	defer tx.Rollback()
	stored, err := c.holdPost(ctx, tx, p.ID, read)
	if err != nil {
		return err
	}
	if stored.State == store.PostPublished {
		return errPublished // by the bot, since the page was read
	}
	if err := store.SavePostTx(ctx, tx, p, state, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO console_posts (post_id, workflow, author_id, author, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
		ON CONFLICT (post_id) DO UPDATE SET workflow = excluded.workflow, updated_at = excluded.updated_at`,
		p.ID, string(m.Workflow), m.AuthorID, m.Author, now); err != nil {
		return fmt.Errorf("saving post %s: %w", p.ID, err)
	}
	if folded, err := foldEdit(ctx, tx, p.ID, now, actor, action, detail); err != nil || folded {
		if err != nil {
			return err
		}
		return tx.Commit()
	}
	if err := addEvent(ctx, tx, p.ID, now, actor, action, detail); err != nil {
		return err
	}
	return tx.Commit()
}

// editFold is how close together one person's edits of a post make one
// line of its history: autosave saves every few seconds while someone
// writes, and the history should say "edited", not list every pause.
const editFold = 10 * time.Minute

// foldEdit moves the time of the post's last history line forward instead
// of adding a line, when that line is an edit by the same person within
// editFold and this is another plain edit; it reports whether it did.
func foldEdit(ctx context.Context, tx *sql.Tx, postID string, now time.Time, actor, action, detail string) (bool, error) {
	if action != "edited" || detail != "" {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE console_events SET at = $1
		WHERE id = (SELECT MAX(id) FROM console_events WHERE post_id = $2)
		AND actor = $3 AND action = 'edited' AND detail = '' AND at >= $4`,
		now.UTC(), postID, actor, now.Add(-editFold).UTC())
	if err != nil {
		return false, fmt.Errorf("recording an edit of %s: %w", postID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func addEvent(ctx context.Context, db execer, postID string, at time.Time, actor, action, detail string) error {
	_, err := db.ExecContext(ctx, `INSERT INTO console_events (post_id, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)`,
		postID, at.UTC(), actor, action, detail)
	if err != nil {
		return fmt.Errorf("recording %s of %s: %w", action, postID, err)
	}
	return nil
}

// setWorkflow changes only the workflow (approve), with its event. read,
// when not empty, is the revision the editor acted on (Approve): nothing is
// written when the post changed since.
func (c *Console) setWorkflow(ctx context.Context, id string, wf Workflow, actor, action, detail, read string) error {
	now := c.opts.Now().UTC()
	tx, err := c.db().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := c.holdPost(ctx, tx, id, read); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE console_posts SET workflow = $1, updated_at = $2 WHERE post_id = $3`, string(wf), now, id); err != nil {
		return fmt.Errorf("updating post %s: %w", id, err)
	}
	if err := addEvent(ctx, tx, id, now, actor, action, detail); err != nil {
		return err
	}
	return tx.Commit()
}

// events lists a post's recorded changes, oldest first.
func (c *Console) events(ctx context.Context, id string) ([]Event, error) {
	rows, err := c.db().QueryContext(ctx, `SELECT at, actor, action, detail FROM console_events WHERE post_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", id, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.At, &e.Actor, &e.Action, &e.Detail); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// approved reports whether a post may go out: an author's post needs an
// editor's approval when console.require_approval is on.
func (c *Console) approved(ctx context.Context, m Meta) (bool, error) {
	if !c.opts.RequireApproval {
		return true, nil
	}
	switch m.Workflow {
	case WorkflowApproved, WorkflowScheduled, WorkflowPublished, WorkflowCancelled:
		return true, nil
	}
	// Written by an editor or owner: their own post needs nobody's approval.
	var role string
	err := c.db().QueryRowContext(ctx, `SELECT role FROM console_users WHERE id = $1`, m.AuthorID).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return Role(role).Can(RoleEditor), nil
}
