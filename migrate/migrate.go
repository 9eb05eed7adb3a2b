// Package migrate provides per-component schema migrations on Crier's shared
// database: the store, the subscribers and the newsletter's send ledger each
// keep their own numbered steps, recorded in one schema_versions table.
package migrate

import (
	"context"
	"database/sql"
	"fmt"
)

// Up brings one component's tables up to date: steps[i] is the SQL that
// takes the component from version i to i+1. Each package that owns tables
// calls it with its own component name. Steps must never be edited once
// shipped; add a new one instead.
func Up(ctx context.Context, db *sql.DB, component string, steps []string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_versions: %w", err)
	}
	// Up to date (the usual case): no write lock needed.
	var version int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component = $1`, component).Scan(&version)
	if err == nil && version >= len(steps) {
		return nil
	}
	// Each step reads the version inside its own write transaction, so two
	// processes starting at once (the daemon and `crier status`) never both
	// apply the same step.
	for {
		done, err := migrateStep(ctx, db, component, steps)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, db *sql.DB, component string, steps []string) (done bool, err error) {
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
	if _, err := tx.ExecContext(ctx, steps[version]); err != nil {
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
