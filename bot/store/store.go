// Package store provides Crier's database: the posts it has seen, the feeds'
// polling state and the per-(post, channel) delivery ledger, on SQLite by
// default or on PostgreSQL (sqldb). River's job tables live in the same database.
package store

import (
	"context"
	"database/sql"

	"github.com/crierhq/crier/migrate"
	"github.com/crierhq/crier/sqldb"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the database and the queries Crier runs on it.
type Store struct {
	db   *sql.DB
	pool *pgxpool.Pool
}

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenDriver(ctx, "sqlite", path)
}

// OpenDriver opens the database of driver ("sqlite", "postgres") at target
// (a file path, a connection string; see sqldb.Open) and brings its schema
// up to date.
func OpenDriver(ctx context.Context, driver, target string) (*Store, error) {
	db, pool, err := sqldb.OpenPool(ctx, driver, target)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, pool: pool}
	if err := migrate.Up(ctx, db, "store", schema); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.backfillLinks(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Dialect is the database's SQL dialect.
func (s *Store) Dialect() sqldb.Dialect { return sqldb.DialectOf(s.db) }

// DB returns the underlying database, for River and for packages that keep
// their own tables (subscribers, the newsletter's send ledger).
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Pool is the pgx pool under DB on PostgreSQL (nil on SQLite), for River's
// LISTEN/NOTIFY listener.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks the database answers, for /healthz.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

var schema = []string{`
CREATE TABLE posts (
	id          TEXT PRIMARY KEY,
	source_kind TEXT NOT NULL,
	source_name TEXT NOT NULL,
	source_key  TEXT NOT NULL,
	hash        TEXT NOT NULL,
	title       TEXT NOT NULL,
	publish_at  TIMESTAMP NOT NULL,
	data        TEXT NOT NULL,
	state       TEXT NOT NULL,
	published_at TIMESTAMP,
	created_at  TIMESTAMP NOT NULL,
	updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX posts_source_hash ON posts (source_kind, source_name, hash);
CREATE INDEX posts_state_publish ON posts (state, publish_at);

CREATE TABLE feeds (
	name          TEXT PRIMARY KEY,
	url           TEXT NOT NULL,
	etag          TEXT NOT NULL DEFAULT '',
	last_modified TEXT NOT NULL DEFAULT '',
	seeded        INTEGER NOT NULL DEFAULT 0,
	last_polled   TIMESTAMP,
	last_error    TEXT NOT NULL DEFAULT ''
);

CREATE TABLE deliveries (
	post_id     TEXT NOT NULL REFERENCES posts (id),
	channel     TEXT NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	remote_id   TEXT NOT NULL DEFAULT '',
	remote_url  TEXT NOT NULL DEFAULT '',
	outbox      BOOLEAN NOT NULL DEFAULT FALSE,
	-- unconfirmed stays set from an ambiguous attempt until one succeeds:
	-- every attempt in between must check the remote side first.
	unconfirmed BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  TIMESTAMP NOT NULL,
	updated_at  TIMESTAMP NOT NULL,
	PRIMARY KEY (post_id, channel)
);
CREATE INDEX deliveries_updated ON deliveries (updated_at);

CREATE TABLE delivery_parts (
	post_id    TEXT NOT NULL,
	channel    TEXT NOT NULL,
	idx        INTEGER NOT NULL,
	remote_id  TEXT NOT NULL,
	remote_url TEXT NOT NULL DEFAULT '',
	created_at TIMESTAMP NOT NULL,
	PRIMARY KEY (post_id, channel, idx)
);

CREATE TABLE schedule_runs (
	name     TEXT PRIMARY KEY,
	last_run TIMESTAMP NOT NULL
);
`, `
-- note says what a sent delivery left out (an image that could not be had).
ALTER TABLE deliveries ADD COLUMN note TEXT NOT NULL DEFAULT '';
`, `
-- link is the post's canonical link (post.CanonicalLink): the same story
-- from two sources is published once, the second marked duplicate_of the first.
ALTER TABLE posts ADD COLUMN link TEXT NOT NULL DEFAULT '';
ALTER TABLE posts ADD COLUMN duplicate_of TEXT NOT NULL DEFAULT '';
CREATE INDEX posts_link ON posts (link);

-- Post files that cannot be read, as last reported: the scan logs a problem
-- once per change, and crier status and the health details show them.
CREATE TABLE post_problems (
	file    TEXT PRIMARY KEY,
	problem TEXT NOT NULL,
	since   TIMESTAMP NOT NULL
);
`, `
-- The console lists posts newest change first and filters them by the
-- state of their deliveries.
CREATE INDEX posts_updated ON posts (updated_at, id, state, source_kind);
CREATE INDEX deliveries_state ON deliveries (state, post_id);
`, `
-- error_kind is the class of the last failed attempt (channels.Kind:
-- permanent, temporary, ambiguous, rate-limited), which the console
-- explains; empty after a success. Rows from before take it from the
-- engine's own prefix of last_error.
ALTER TABLE deliveries ADD COLUMN error_kind TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET error_kind = 'permanent' WHERE state <> 'sent' AND last_error LIKE 'permanent: %';
UPDATE deliveries SET error_kind = 'ambiguous' WHERE state <> 'sent' AND last_error LIKE 'ambiguous: %';
UPDATE deliveries SET error_kind = 'rate-limited' WHERE state <> 'sent' AND last_error LIKE 'rate-limited: %';
UPDATE deliveries SET error_kind = 'temporary' WHERE state <> 'sent'
	AND (last_error LIKE 'temporary: %' OR last_error LIKE 'gave up after % attempts: temporary: %');
`, `
-- Corrections and withdrawals of published posts (issue 23): one row per
-- request, numbered per post (revision), and one per channel it reaches
-- with what the network did. A withdrawal takes a revision number too, so
-- (post, channel, revision) names one operation on one network.
CREATE TABLE corrections (
	post_id      TEXT NOT NULL,
	revision     INTEGER NOT NULL,
	kind         TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	note         TEXT NOT NULL DEFAULT '',
	changes      TEXT NOT NULL DEFAULT '',
	corrected    TEXT NOT NULL DEFAULT '',
	options      TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL,
	approved_by  TEXT NOT NULL DEFAULT '',
	created_at   TIMESTAMP NOT NULL,
	updated_at   TIMESTAMP NOT NULL,
	PRIMARY KEY (post_id, revision)
);
CREATE TABLE correction_results (
	post_id    TEXT NOT NULL,
	revision   INTEGER NOT NULL,
	channel    TEXT NOT NULL,
	state      TEXT NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	error_kind TEXT NOT NULL DEFAULT '',
	parts      TEXT NOT NULL DEFAULT '',
	note       TEXT NOT NULL DEFAULT '',
	updated_at TIMESTAMP NOT NULL,
	PRIMARY KEY (post_id, revision, channel)
);
-- changed holds how a published post reads at its source now, when that
-- differs from what went out (a feed item edited on the website), as the
-- post's JSON; empty when it does not.
ALTER TABLE posts ADD COLUMN changed TEXT NOT NULL DEFAULT '';
`}
