// Package archive provides the public archive of sent newsletters: the web
// version of each (rendered without anything personal), which the archive
// pages and their RSS feed list, and which organisers can hide.
package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierhq/crier/migrate"
)

// Path is the path of a newsletter's page in the public archive, below
// http.public_url ("/archive/post%3Amd%3Avigil"). The colons are escaped so
// that the page's relative link cannot be read as a URL scheme.
func Path(id string) string { return "/archive/" + Slug(id) }

// Slug is id as the last segment of its archive path.
func Slug(id string) string { return strings.ReplaceAll(url.PathEscape(id), ":", "%3A") }

// ErrNotFound is returned for a newsletter that is not in the archive.
var ErrNotFound = errors.New("newsletter not in the archive")

// Entry is one sent newsletter.
type Entry struct {
	// ID is the send's id in the newsletter's send ledger
	// ("post:md:vigil", "digest:2026-W22").
	ID      string    `json:"id"`
	Kind    string    `json:"kind"` // post or digest
	Subject string    `json:"subject"`
	Summary string    `json:"summary"`
	SentAt  time.Time `json:"sent_at"`
	Hidden  bool      `json:"hidden"`
	// Language is the language of the web version's own words.
	Language string `json:"language"`
	// HTML is the web version: the newsletter with no name, no signed
	// links and no pictures carried in the mail. List leaves it empty.
	HTML string `json:"-"`
}

var schema = []string{`
CREATE TABLE newsletter_archive (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	summary    TEXT NOT NULL DEFAULT '',
	language   TEXT NOT NULL DEFAULT '',
	html       TEXT NOT NULL,
	sent_at    TIMESTAMP NOT NULL,
	hidden     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX newsletter_archive_sent ON newsletter_archive (sent_at);
`, `
-- Page views of each newsletter's web version: one number per newsletter,
-- no address, no cookie, no time of any single view.
CREATE TABLE newsletter_archive_views (
	id    TEXT PRIMARY KEY,
	views BIGINT NOT NULL DEFAULT 0
);
`}

// Store keeps the archive in the daemon's database.
type Store struct{ db *sql.DB }

// Prepare creates or migrates the archive's table in db, without anything
// in it (crier store copy fills it from another database).
func Prepare(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "archive", schema)
}

// Open creates or migrates the archive's table in db.
func Open(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := migrate.Up(ctx, db, "archive", schema); err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// Record adds a newsletter when its send starts; a newsletter already there
// (a send resumed) is left as it is, hidden or not.
func (s *Store) Record(ctx context.Context, e Entry) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO newsletter_archive (id, kind, subject, summary, language, html, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Kind, e.Subject, e.Summary, e.Language, e.HTML, e.SentAt.UTC()); err != nil {
		return fmt.Errorf("archiving newsletter %s: %w", e.ID, err)
	}
	return nil
}

// List returns up to limit newsletters, newest first, without their HTML;
// hidden ones only when withHidden.
func (s *Store) List(ctx context.Context, withHidden bool, limit int) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, subject, summary, language, sent_at, hidden FROM newsletter_archive
		WHERE $1 OR NOT hidden ORDER BY sent_at DESC, id LIMIT $2`, withHidden, limit)
	if err != nil {
		return nil, fmt.Errorf("listing the archive: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.ID, &e.Kind, &e.Subject, &e.Summary, &e.Language, &e.SentAt, &e.Hidden); err != nil {
			return nil, fmt.Errorf("listing the archive: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the archive: %w", err)
	}
	return out, nil
}

// Get returns one newsletter with its HTML, hidden or not (callers serving
// the public refuse hidden ones), or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (Entry, error) {
	var e Entry
	err := s.db.QueryRowContext(ctx, `SELECT id, kind, subject, summary, language, html, sent_at, hidden FROM newsletter_archive WHERE id = $1`, id).
		Scan(&e.ID, &e.Kind, &e.Subject, &e.Summary, &e.Language, &e.HTML, &e.SentAt, &e.Hidden)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("newsletter %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("reading newsletter %q from the archive: %w", id, err)
	}
	return e, nil
}

// SetHidden hides a newsletter from the public archive and its feed (its
// page answers 404), or shows it again.
func (s *Store) SetHidden(ctx context.Context, id string, hidden bool) error {
	res, err := s.db.ExecContext(ctx, `UPDATE newsletter_archive SET hidden = $1 WHERE id = $2`, hidden, id)
	if err != nil {
		return fmt.Errorf("hiding newsletter %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("newsletter %q: %w", id, ErrNotFound)
	}
	return nil
}

// CountView adds one view of a newsletter's web version: a number, nothing
// about who viewed it.
func (s *Store) CountView(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO newsletter_archive_views (id, views) VALUES ($1, 1)
		ON CONFLICT (id) DO UPDATE SET views = newsletter_archive_views.views + 1`, id); err != nil {
		return fmt.Errorf("counting a view of newsletter %q: %w", id, err)
	}
	return nil
}

// Views is how many times a newsletter's web version was viewed.
func (s *Store) Views(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT views FROM newsletter_archive_views WHERE id = $1`, id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the views of newsletter %q: %w", id, err)
	}
	return n, nil
}

// Automated reports whether r is not a person opening a page: a HEAD, a
// browser's prefetch or prerender, or a client that says it is a bot,
// crawler, link checker or link preview. Such requests are served but not
// counted (as views or clicks). It is a cheap filter, not a guarantee: a
// mail provider's link scanner that looks like a browser is counted.
func Automated(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return true
	}
	for _, h := range []string{"Sec-Purpose", "Purpose", "X-Purpose", "X-Moz"} {
		if v := strings.ToLower(r.Header.Get(h)); strings.Contains(v, "prefetch") || strings.Contains(v, "preview") || strings.Contains(v, "prerender") {
			return true
		}
	}
	ua := strings.ToLower(r.UserAgent())
	if ua == "" {
		return true
	}
	for _, word := range automatedAgents {
		if strings.Contains(ua, word) {
			return true
		}
	}
	return false
}

// automatedAgents are words in the User-Agent of clients that are not a
// person reading: crawlers, link previews of chat apps, HTTP libraries.
var automatedAgents = []string{"bot", "crawl", "spider", "slurp", "preview", "facebookexternalhit", "embedly", "curl/", "wget/",
	"python-requests", "go-http-client", "okhttp", "headless", "lighthouse", "scanner", "monitor", "check"}
