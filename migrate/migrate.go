// Package migrate provides per-component schema migrations on Crier's shared
// database: the store, the subscribers and the newsletter's send ledger each
// keep their own numbered steps, recorded in one schema_versions table. One
// step is one schema version on every database: a step whose SQL must differ
// between SQLite and PostgreSQL is written for each (Dialects).
package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/crierhq/crier/sqldb"
)

// dialectMark starts a step written per dialect; it cannot occur in SQL.
const dialectMark = "\x00crier-dialects\x00"

// Dialects is one step written twice, for SQLite and for PostgreSQL, where
// the SQL must differ (AUTOINCREMENT, WITHOUT ROWID, triggers, 64-bit
// integers). A step that is the same on both stays a plain string.
func Dialects(sqlite, postgres string) string {
	return dialectMark + sqlite + "\x00" + postgres
}

// stepFor returns the SQL of step for dialect d.
func stepFor(step string, d sqldb.Dialect) string {
	rest, ok := strings.CutPrefix(step, dialectMark)
	if !ok {
		return step
	}
	sqlite, postgres, _ := strings.Cut(rest, "\x00")
	return d.Pick(sqlite, postgres)
}

// Up brings one component's tables up to date: steps[i] is the SQL that
// takes the component from version i to i+1. Each package that owns tables
// calls it with its own component name. Steps must never be edited once
// shipped; add a new one instead.
func Up(ctx context.Context, db *sql.DB, component string, steps []string) error {
	// Up to date (the usual case): no lock needed.
	if version, err := Version(ctx, db, component); err == nil && version >= len(steps) {
		return nil
	}
	// Two processes starting at once (two replicas; the daemon and `crier
	// status`) never both apply a step: on PostgreSQL they queue on an
	// advisory lock, on SQLite each step's write transaction is exclusive.
	release, err := sqldb.Lock(ctx, db, "migrate")
	if err != nil {
		return err
	}
	defer release()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_versions: %w", err)
	}
	d := sqldb.DialectOf(db)
	for {
		done, err := migrateStep(ctx, db, d, component, steps)
		if err != nil || done {
			return err
		}
	}
}

// Version is the schema version of component (0 when it has none yet, or
// schema_versions does not exist).
func Version(ctx context.Context, db *sql.DB, component string) (int, error) {
	var version int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component = $1`, component).Scan(&version)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return version, err
}

// Versions is the schema version of every component in the database
// (empty when schema_versions does not exist yet).
func Versions(ctx context.Context, db *sql.DB) (map[string]int, error) {
	out := map[string]int{}
	if ok, err := sqldb.DialectOf(db).TableExists(ctx, db, "schema_versions"); err != nil || !ok {
		return out, err
	}
	rows, err := db.QueryContext(ctx, `SELECT component, version FROM schema_versions`)
	if err != nil {
		return nil, fmt.Errorf("reading the schema versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			return nil, fmt.Errorf("reading the schema versions: %w", err)
		}
		out[c] = v
	}
	return out, rows.Err()
}

// Current reports whether component's schema is at len(steps): a replica
// of an older version must not run against a schema it does not know.
func Current(ctx context.Context, db *sql.DB, component string, steps []string) (bool, error) {
	v, err := Version(ctx, db, component)
	if err != nil {
		return false, err
	}
	return v == len(steps), nil
}

func migrateStep(ctx context.Context, db *sql.DB, d sqldb.Dialect, component string, steps []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrating %s: %w", component, err)
	}
	defer tx.Rollback()
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component = $1`, component).Scan(&version)
	if err != nil && err != sql.ErrNoRows {
		return false, fmt.Errorf("reading schema version of %s: %w", component, err)
	}
	if version >= len(steps) {
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, stepFor(steps[version], d)); err != nil {
		return false, fmt.Errorf("migrating %s to version %d: %w", component, version+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_versions (component, version) VALUES ($1, $2)
		ON CONFLICT (component) DO UPDATE SET version = excluded.version`, component, version+1); err != nil {
		return false, fmt.Errorf("recording %s schema version %d: %w", component, version+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrating %s to version %d: %w", component, version+1, err)
	}
	return false, nil
}
