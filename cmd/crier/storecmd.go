package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/imagehost"
	"github.com/crierhq/crier/migrate"
	"github.com/crierhq/crier/reach"
	"github.com/crierhq/crier/sqldb"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
	"github.com/crierhq/crier/web/console"
)

const storeUsage = `Usage: crier store copy --from sqlite:PATH --to postgres:DSN

Moves an installation to another database (typically from the embedded
SQLite to PostgreSQL, to run several replicas): posts, deliveries and their
parts, feeds' state, schedule runs, subscribers with their consent history,
suppressions and link settings, newsletter sends and their per-recipient
ledger, the rate limits, what posts reached, and the connected accounts
(their secrets copied still sealed: give the target's replicas the same
accounts key). Stop crier run first.

  --from DRIVER:WHERE   the database to copy: sqlite:data/crier.db or postgres:DSN
  --to DRIVER:WHERE     the empty database to fill; postgres: alone takes the
                        DSN from DATABASE_URL (keeps the password off the
                        command line)

It brings both to the current schema first, refuses a target that holds any
row, copies in one transaction, and compares every table's row count
afterwards. Jobs queued in River are not copied: crier run queues a job again
for every delivery that is not finished.
`

// cmdStore runs `crier store SUBCOMMAND`.
func cmdStore(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(app.Stdout, storeUsage)
			return nil
		}
		fmt.Fprint(app.Stderr, storeUsage)
		return usageError{"give the subcommand: copy"}
	}
	fs := flag.NewFlagSet("store copy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprint(app.Stdout, storeUsage)
			return nil
		}
		fmt.Fprint(app.Stderr, storeUsage)
		return usageError{err.Error()}
	}
	if *from == "" || *to == "" {
		fmt.Fprint(app.Stderr, storeUsage)
		return usageError{"--from and --to are both needed"}
	}
	fd, ft, err := parseDatabase("--from", *from)
	if err != nil {
		return err
	}
	td, tt, err := parseDatabase("--to", *to)
	if err != nil {
		return err
	}
	return copyStore(ctx, app.Stdout, fd, ft, td, tt)
}

// parseDatabase reads DRIVER:WHERE.
func parseDatabase(flagName, v string) (driver, target string, err error) {
	driver, target, ok := strings.Cut(v, ":")
	if !ok || !slices.Contains(sqldb.Drivers, driver) {
		return "", "", usageError{fmt.Sprintf("%s %q: write sqlite:PATH or postgres:DSN", flagName, sqldb.Redact(v))}
	}
	if driver == "postgres" && target == "" {
		target = os.Getenv("DATABASE_URL")
		if target == "" {
			return "", "", usageError{fmt.Sprintf("%s postgres: with nothing after it takes the DSN from DATABASE_URL, which is empty", flagName)}
		}
	}
	if target == "" {
		return "", "", usageError{fmt.Sprintf("%s %s: needs a path", flagName, driver)}
	}
	return driver, target, nil
}

// prepare brings db's tables to the current schema without putting rows in
// them.
func prepare(ctx context.Context, db *sql.DB) error {
	steps := []func(context.Context, *sql.DB) error{subscribers.Prepare, web.PrepareShared, archive.Prepare, console.Prepare, reach.Prepare, accounts.Prepare, bounces.Prepare, imagehost.Prepare}
	for _, f := range append(steps, channelTables...) {
		if err := f(ctx, db); err != nil {
			return err
		}
	}
	return nil
}

// parentTables are the tables whose rows others refer to by foreign key,
// copied before the rest.
var parentTables = []string{"posts", "channel_accounts"}

func copyStore(ctx context.Context, out io.Writer, fromDriver, fromTarget, toDriver, toTarget string) error {
	src, err := store.OpenDriver(ctx, fromDriver, fromTarget)
	if err != nil {
		return fmt.Errorf("opening the source: %w", err)
	}
	defer src.Close()
	if err := prepare(ctx, src.DB()); err != nil {
		return fmt.Errorf("bringing the source up to date: %w", err)
	}
	// The target must be empty before anything is created in it: opening
	// the subscribers would already write a suppression salt of its own.
	dstDB, err := sqldb.Open(ctx, toDriver, toTarget)
	if err != nil {
		return fmt.Errorf("opening the target: %w", err)
	}
	if err := refuseNonEmpty(ctx, dstDB); err != nil {
		dstDB.Close()
		return err
	}
	dstDB.Close()
	dst, err := store.OpenDriver(ctx, toDriver, toTarget)
	if err != nil {
		return fmt.Errorf("opening the target: %w", err)
	}
	defer dst.Close()
	if err := prepare(ctx, dst.DB()); err != nil {
		return fmt.Errorf("preparing the target: %w", err)
	}
	tables, err := sqldb.Tables(ctx, src.DB())
	if err != nil {
		return err
	}
	tables = slices.DeleteFunc(tables, func(t string) bool { return t == "schema_versions" })
	if err := sameVersions(ctx, src.DB(), dst.DB()); err != nil {
		return err
	}
	// Tables others refer to first: deliveries refer to posts, an
	// account's secrets to the account.
	slices.SortStableFunc(tables, func(a, b string) int {
		return boolInt(slices.Contains(parentTables, b)) - boolInt(slices.Contains(parentTables, a))
	})
	tx, err := dst.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	copied := map[string]int64{}
	for _, t := range tables {
		n, err := sqldb.CopyTable(ctx, src.DB(), dst.DB(), tx, t)
		if err != nil {
			return err
		}
		copied[t] = n
	}
	if err := sqldb.CopyIdentities(ctx, src.DB(), dst.DB(), tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing the copy: %w", err)
	}
	// Verify: every table holds as many rows as the source.
	var bad []string
	for _, t := range tables {
		want, err := sqldb.Count(ctx, src.DB(), t)
		if err != nil {
			return err
		}
		got, err := sqldb.Count(ctx, dst.DB(), t)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-26s %8d rows\n", t, got)
		if got != want || got != copied[t] {
			bad = append(bad, fmt.Sprintf("%s: source %d, copied %d, target %d", t, want, copied[t], got))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the copy does not match the source (was crier run still writing?): %s", strings.Join(bad, "; "))
	}
	fmt.Fprintf(out, "copied %d tables from %s to %s; every count matches\n", len(tables), fromDriver, toDriver)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// refuseNonEmpty fails when any table of db holds a row.
func refuseNonEmpty(ctx context.Context, db *sql.DB) error {
	tables, err := sqldb.Tables(ctx, db)
	if err != nil {
		return err
	}
	for _, t := range tables {
		n, err := sqldb.Count(ctx, db, t)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the target database is not empty (%s has %d rows): crier store copy only fills an empty database, so nothing in it is overwritten", t, n)
		}
	}
	return nil
}

// sameVersions checks both databases have every component at one version.
func sameVersions(ctx context.Context, a, b *sql.DB) error {
	vs, err := migrate.Versions(ctx, a)
	if err != nil {
		return fmt.Errorf("the source: %w", err)
	}
	for c, v := range vs {
		w, err := migrate.Version(ctx, b, c)
		if err != nil {
			return err
		}
		if w != v {
			return fmt.Errorf("the source's %s tables are at version %d, the target's at %d: this crier does not know the source's component (copy with the version of crier that wrote it)", c, v, w)
		}
	}
	return nil
}
