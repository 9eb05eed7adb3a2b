package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crierhq/crier/post"
)

// PostState is where a post stands in Crier.
type PostState string

const (
	// PostSeen is a feed item recorded without publishing (the back
	// catalogue on a feed's first poll, or an ignored edit).
	PostSeen PostState = "seen"
	// PostDraft is a Markdown post marked draft.
	PostDraft PostState = "draft"
	// PostScheduled waits for its publish_at.
	PostScheduled PostState = "scheduled"
	// PostPublished has had its deliveries queued.
	PostPublished PostState = "published"
	// PostExample is a sample shipped with Crier (example: true) held back
	// because a channel sends for real: examples only ever go to the outbox.
	PostExample PostState = "example"
	// PostWithdrawn was scheduled, then its file was removed or renamed
	// before it fell due: it is never sent.
	PostWithdrawn PostState = "withdrawn"
	// PostDuplicate has the same canonical link as a post already
	// published from another source: it is recorded, never sent.
	PostDuplicate PostState = "duplicate"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// StoredPost is a post with Crier's bookkeeping.
type StoredPost struct {
	Post  post.Post
	State PostState
	// DuplicateOf is the id of the published post a duplicate repeats.
	DuplicateOf string
	// PublishedAt is when the post was first published (zero if never).
	PublishedAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// SavePost inserts or updates a post and its state.
func (s *Store) SavePost(ctx context.Context, p post.Post, state PostState, now time.Time) error {
	return saveThePost(ctx, s.db, p, state, now)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func saveThePost(ctx context.Context, db execer, p post.Post, state PostState, now time.Time) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding post %s: %w", p.ID, err)
	}
	hash := p.Source.Hash
	if hash == "" {
		hash = p.ContentHash()
	}
	// published_at is set the first time the post is published and never
	// again: the digest and crier status order by it.
	var publishedAt any
	if state == PostPublished {
		publishedAt = now.UTC()
	}
	_, err = db.ExecContext(ctx, `INSERT INTO posts (id, source_kind, source_name, source_key, hash, title, publish_at, data, state, published_at, created_at, updated_at, link)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, title = excluded.title, publish_at = excluded.publish_at,
			data = excluded.data, state = excluded.state, updated_at = excluded.updated_at, link = excluded.link,
			published_at = COALESCE(posts.published_at, excluded.published_at)`,
		p.ID, p.Source.Kind, p.Source.Name, p.Source.Key, hash, p.Title, p.PublishAt.UTC(), string(data), string(state), publishedAt, now.UTC(), storedLink(p))
	if err != nil {
		return fmt.Errorf("saving post %s: %w", p.ID, err)
	}
	return nil
}

// Post returns a stored post, or ErrNotFound.
func (s *Store) Post(ctx context.Context, id string) (StoredPost, error) {
	return readPost(ctx, s.db, id, "")
}

// HoldPostTx is Post inside a transaction that holds the post's row until
// it ends: a publish or a save of the same post waits for it, so that what
// the transaction read is what stays until it writes.
func (s *Store) HoldPostTx(ctx context.Context, tx *sql.Tx, id string) (StoredPost, error) {
	return readPost(ctx, tx, id, s.Dialect().ForUpdate())
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func readPost(ctx context.Context, db rowQuerier, id string, lock string) (StoredPost, error) {
	row := db.QueryRowContext(ctx, `SELECT data, state, duplicate_of, published_at, created_at, updated_at FROM posts WHERE id = $1`+lock, id)
	sp, err := scanPost(row)
	if errors.Is(err, sql.ErrNoRows) {
		return StoredPost{}, fmt.Errorf("post %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return StoredPost{}, fmt.Errorf("reading post %s: %w", id, err)
	}
	return sp, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanPost(row scanner) (StoredPost, error) {
	var (
		data, state string
		published   sql.NullTime
		sp          StoredPost
	)
	if err := row.Scan(&data, &state, &sp.DuplicateOf, &published, &sp.CreatedAt, &sp.UpdatedAt); err != nil {
		return sp, err
	}
	sp.PublishedAt = published.Time
	if err := json.Unmarshal([]byte(data), &sp.Post); err != nil {
		return sp, fmt.Errorf("decoding stored post: %w", err)
	}
	sp.State = PostState(state)
	return sp, nil
}

// HasSourceHash reports whether a post from the same source with the same
// content hash exists: a feed item that only changed its GUID or date.
func (s *Store) HasSourceHash(ctx context.Context, kind, name, hash string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM posts WHERE source_kind = $1 AND source_name = $2 AND hash = $3 LIMIT 1`, kind, name, hash).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up %s %s by content hash: %w", kind, name, err)
	}
	return true, nil
}

// Pending returns the Markdown posts still waiting (scheduled or draft).
func (s *Store) Pending(ctx context.Context, kind string) ([]StoredPost, error) {
	return s.queryPosts(ctx, `SELECT data, state, duplicate_of, published_at, created_at, updated_at FROM posts WHERE source_kind = $1 AND state IN ($2, $3) ORDER BY publish_at`,
		kind, string(PostScheduled), string(PostDraft))
}

// DueScheduled returns the scheduled posts of a source whose publish_at
// has come, oldest first.
func (s *Store) DueScheduled(ctx context.Context, kind string, now time.Time) ([]StoredPost, error) {
	return s.queryPosts(ctx, `SELECT data, state, duplicate_of, published_at, created_at, updated_at FROM posts WHERE state = $1 AND source_kind = $2 AND publish_at <= $3 ORDER BY publish_at, id`,
		string(PostScheduled), kind, now.UTC())
}

// RecentPosts returns the newest posts, for crier status.
func (s *Store) RecentPosts(ctx context.Context, limit int) ([]StoredPost, error) {
	return s.queryPosts(ctx, `SELECT data, state, duplicate_of, published_at, created_at, updated_at FROM posts WHERE state != $1 ORDER BY updated_at DESC, id LIMIT $2`, string(PostSeen), limit)
}

// PublishedBetween returns posts published after since and up to until,
// oldest first (the digest).
func (s *Store) PublishedBetween(ctx context.Context, since, until time.Time) ([]StoredPost, error) {
	return s.queryPosts(ctx, `SELECT data, state, duplicate_of, published_at, created_at, updated_at FROM posts WHERE state = $1 AND published_at > $2 AND published_at <= $3 ORDER BY published_at, id`,
		string(PostPublished), since.UTC(), until.UTC())
}

func (s *Store) queryPosts(ctx context.Context, query string, args ...any) ([]StoredPost, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("listing posts: %w", err)
	}
	defer rows.Close()
	var out []StoredPost
	for rows.Next() {
		sp, err := scanPost(rows)
		if err != nil {
			return nil, fmt.Errorf("listing posts: %w", err)
		}
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing posts: %w", err)
	}
	return out, nil
}

// Feed is a feed's polling state.
type Feed struct {
	Name         string
	URL          string
	ETag         string
	LastModified string
	Seeded       bool
	LastPolled   sql.NullTime
	LastError    string
}

// Feed returns a feed's state; an unknown feed has the zero state.
func (s *Store) Feed(ctx context.Context, name string) (Feed, error) {
	f := Feed{Name: name}
	var seeded int
	err := s.db.QueryRowContext(ctx, `SELECT url, etag, last_modified, seeded, last_polled, last_error FROM feeds WHERE name = $1`, name).
		Scan(&f.URL, &f.ETag, &f.LastModified, &seeded, &f.LastPolled, &f.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("reading feed %s: %w", name, err)
	}
	f.Seeded = seeded != 0
	return f, nil
}

// SaveFeed stores a feed's state after a poll.
func (s *Store) SaveFeed(ctx context.Context, f Feed) error {
	seeded := 0
	if f.Seeded {
		seeded = 1
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO feeds (name, url, etag, last_modified, seeded, last_polled, last_error)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (name) DO UPDATE SET url = excluded.url, etag = excluded.etag, last_modified = excluded.last_modified,
			seeded = excluded.seeded, last_polled = excluded.last_polled, last_error = excluded.last_error`,
		f.Name, f.URL, f.ETag, f.LastModified, seeded, f.LastPolled, f.LastError)
	if err != nil {
		return fmt.Errorf("saving feed %s: %w", f.Name, err)
	}
	return nil
}

// LastRun returns when a schedule last ran; ok is false if it never did.
func (s *Store) LastRun(ctx context.Context, name string) (t time.Time, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT last_run FROM schedule_runs WHERE name = $1`, name).Scan(&t)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading last run of %s: %w", name, err)
	}
	return t, true, nil
}

// ForgetRun removes a schedule's record.
func (s *Store) ForgetRun(ctx context.Context, name string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schedule_runs WHERE name = $1`, name); err != nil {
		return fmt.Errorf("forgetting run of %s: %w", name, err)
	}
	return nil
}

// SetLastRun records a schedule's run.
func (s *Store) SetLastRun(ctx context.Context, name string, t time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedule_runs (name, last_run) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET last_run = excluded.last_run`, name, t.UTC())
	if err != nil {
		return fmt.Errorf("recording run of %s: %w", name, err)
	}
	return nil
}

// storedLink is the link column: the canonical link, empty for an update
// note (it shares its original's link on purpose) and for an example (it
// only ever reaches the outbox, so it must not hold back a real post).
func storedLink(p post.Post) string {
	if p.Update || p.Example || p.Link == "" {
		return ""
	}
	return post.CanonicalLink(p.Link)
}

// PublishedWithLinkTx returns the id of a published post other than id with
// the same canonical link, or "" when there is none.
func PublishedWithLinkTx(ctx context.Context, tx *sql.Tx, id, link string) (string, error) {
	if link == "" {
		return "", nil
	}
	var other string
	err := tx.QueryRowContext(ctx, `SELECT id FROM posts WHERE link = $1 AND id != $2 AND state = $3 ORDER BY published_at, id LIMIT 1`,
		post.CanonicalLink(link), id, string(PostPublished)).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("looking up posts linking to %s: %w", link, err)
	}
	return other, nil
}

// SaveDuplicateTx records p as a duplicate of the published post of.
func SaveDuplicateTx(ctx context.Context, tx *sql.Tx, p post.Post, of string, now time.Time) error {
	if err := saveThePost(ctx, tx, p, PostDuplicate, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE posts SET duplicate_of = $1 WHERE id = $2`, of, p.ID); err != nil {
		return fmt.Errorf("recording %s as a duplicate of %s: %w", p.ID, of, err)
	}
	return nil
}

// backfillLinks fills the link column of posts stored before it existed.
func (s *Store) backfillLinks(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, data FROM posts WHERE link = '' AND COALESCE(`+s.Dialect().JSONText("data", "link")+`, '') != ''`)
	if err != nil {
		return fmt.Errorf("listing posts without a stored link: %w", err)
	}
	links := map[string]string{}
	for rows.Next() {
		var id, data string
		var p post.Post
		if err := rows.Scan(&id, &data); err != nil {
			rows.Close()
			return fmt.Errorf("listing posts without a stored link: %w", err)
		}
		if json.Unmarshal([]byte(data), &p) == nil {
			links[id] = storedLink(p)
		}
	}
	rows.Close()
	for id, link := range links {
		if link == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, `UPDATE posts SET link = $1 WHERE id = $2`, link, id); err != nil {
			return fmt.Errorf("storing the link of %s: %w", id, err)
		}
	}
	return nil
}
