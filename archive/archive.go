// Package archive provides the public archive of sent newsletters: the web
// version of each (rendered without anything personal), which the archive
// pages and their RSS feed list, and which organisers can hide.
package archive

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	// Correction is what its last correction changed (CorrectedAt), ""
	// when never corrected; HiddenReason why organisers withdrew it.
	Correction   string    `json:"correction,omitempty"`
	CorrectedAt  time.Time `json:"corrected_at,omitempty"`
	HiddenReason string    `json:"hidden_reason,omitempty"`
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
-- A corrected newsletter (issue 23): its web version is the corrected one,
-- which says "Corrected on DATE: WHAT"; correction is the WHAT. A withdrawn
-- one is hidden with the organiser's reason.
ALTER TABLE newsletter_archive ADD COLUMN correction TEXT NOT NULL DEFAULT '';
ALTER TABLE newsletter_archive ADD COLUMN corrected_at TIMESTAMP;
ALTER TABLE newsletter_archive ADD COLUMN hidden_reason TEXT NOT NULL DEFAULT '';
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
	var corrected sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT id, kind, subject, summary, language, html, sent_at, hidden, correction, corrected_at, hidden_reason FROM newsletter_archive WHERE id = $1`, id).
		Scan(&e.ID, &e.Kind, &e.Subject, &e.Summary, &e.Language, &e.HTML, &e.SentAt, &e.Hidden, &e.Correction, &corrected, &e.HiddenReason)
	e.CorrectedAt = corrected.Time
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

// Correct replaces a newsletter's web version with the corrected one (html,
// which says what was corrected), recording the correction.
func (s *Store) Correct(ctx context.Context, id, subject, html, correction string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE newsletter_archive SET subject = $1, html = $2, correction = $3, corrected_at = $4 WHERE id = $5`,
		subject, html, correction, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("correcting newsletter %q in the archive: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("newsletter %q: %w", id, ErrNotFound)
	}
	return nil
}

// Hide hides a withdrawn newsletter from the public archive and its feed,
// recording why.
func (s *Store) Hide(ctx context.Context, id, reason string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE newsletter_archive SET hidden = TRUE, hidden_reason = $1 WHERE id = $2`, reason, id)
	if err != nil {
		return fmt.Errorf("hiding newsletter %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("newsletter %q: %w", id, ErrNotFound)
	}
	return nil
}
