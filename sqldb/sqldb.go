// Package sqldb provides the databases Crier runs on, SQLite (embedded, the
// default) and PostgreSQL (several replicas), behind one *sql.DB, and the few
// things that differ between them: opening, the dialect of the SQL that
// cannot be written once, and a lock that holds across processes.
//
// Every package that keeps tables takes a *sql.DB and asks DialectOf for what
// differs, so the SQL that is the same on both (nearly all of it: $N
// placeholders, ON CONFLICT upserts, RETURNING) is written once.
package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Dialect is the SQL a database speaks where Crier's queries must differ.
type Dialect string

const (
	// SQLite is the embedded default (modernc.org/sqlite).
	SQLite Dialect = "sqlite"
	// Postgres is PostgreSQL through pgx (jackc/pgx/v5/stdlib).
	Postgres Dialect = "postgres"
)

// Drivers are the store.driver values Crier accepts.
var Drivers = []string{string(SQLite), string(Postgres)}

// DialectOf tells which database db is; a *sql.DB that Open did not make is
// taken for SQLite, the embedded default.
func DialectOf(db *sql.DB) Dialect {
	switch db.Driver().(type) {
	case *stdlib.Driver:
		return Postgres
	case *sqlite.Driver:
		return SQLite
	}
	return SQLite
}

// Open opens the database of driver ("sqlite" or "postgres") at target: a
// file path for SQLite (created with its folder if need be), a libpq URL or
// key=value connection string for PostgreSQL (TLS options such as sslmode
// and sslrootcert pass through to pgx). It waits until the database answers
// or ctx ends.
func Open(ctx context.Context, driver, target string) (*sql.DB, error) {
	switch Dialect(driver) {
	case SQLite, "":
		return openSQLite(ctx, target)
	case Postgres:
		db, _, err := openPostgres(ctx, target)
		return db, err
	}
	return nil, fmt.Errorf("unknown database driver %q (want one of %s)", driver, strings.Join(Drivers, ", "))
}

func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("creating the data folder for %s: %w", path, err)
	}
	// WAL lets readers (crier status) work while the daemon writes;
	// busy_timeout makes a second process wait instead of failing at once,
	// and comes first so that switching to WAL waits too.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	// SQLite allows one writer; River's SQLite driver asks for a single
	// connection so its internal work never trips over SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	if err := pingUntilFree(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	return db, nil
}

// pingUntilFree opens the first connection. Switching a new database to WAL
// needs it to itself, and SQLite answers SQLITE_BUSY at once (without the
// busy timeout) while another process does the same: wait and try again.
func pingUntilFree(ctx context.Context, db *sql.DB) error {
	var err error
	for wait := 10 * time.Millisecond; wait < 10*time.Second; wait *= 2 {
		if err = db.PingContext(ctx); err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return err
}

// MaxPostgresConns bounds each process's connections to PostgreSQL: the
// workers of every channel queue, River's own, the web pages and a
// newsletter send's claims together stay well under PostgreSQL's default
// max_connections (100) with several replicas.
const MaxPostgresConns = 16

// OpenPool opens a database as Open does and, for PostgreSQL, also returns
// the pgx pool under the *sql.DB, for what needs pgx itself (River's
// LISTEN/NOTIFY listener); the pool is nil for SQLite. Closing the *sql.DB
// closes the pool.
func OpenPool(ctx context.Context, driver, target string) (*sql.DB, *pgxpool.Pool, error) {
	if Dialect(driver) == Postgres {
		return openPostgres(ctx, target)
	}
	db, err := Open(ctx, driver, target)
	return db, nil, err
}

func openPostgres(ctx context.Context, dsn string) (*sql.DB, *pgxpool.Pool, error) {
	if dsn == "" {
		return nil, nil, errors.New("store.dsn is empty: PostgreSQL needs a connection string such as postgres://crier@db/crier?sslmode=verify-full (usually store.dsn: ${DATABASE_URL})")
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the PostgreSQL connection string (%s): %w", Redact(dsn), err)
	}
	// Two more than database/sql may hold: River's listener keeps one
	// connection of its own.
	cfg.MaxConns = MaxPostgresConns + 2
	// A connection the server closed (restart, failover) is dropped on
	// first use; recycling them now and then keeps a replica from holding
	// connections to a server that was replaced.
	cfg.MaxConnLifetime = 30 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("opening PostgreSQL (%s): %w", Redact(dsn), err)
	}
	db := sql.OpenDB(poolConnector{Connector: stdlib.GetPoolConnector(pool), pool: pool})
	db.SetMaxOpenConns(MaxPostgresConns)
	// Idle connections stay with database/sql (stdlib.OpenDBFromPool would
	// give each query a fresh one), so prepared statements are reused.
	db.SetMaxIdleConns(MaxPostgresConns)
	db.SetConnMaxLifetime(30 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connecting to PostgreSQL (%s): %w", Redact(dsn), err)
	}
	return db, pool, nil
}

// poolConnector is pgx's connector over a pool, which database/sql closes
// (with the pool) when the *sql.DB is closed.
type poolConnector struct {
	driver.Connector
	pool *pgxpool.Pool
}

func (c poolConnector) Close() error {
	c.pool.Close()
	return nil
}

// Redact returns a connection string fit for a log or an error: the
// password (of a URL or a password=... pair) is replaced.
func Redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// A key=value string, or a URL that does not parse (a typo in its
	// port, a raw @ in the password): the password is cut out by pattern,
	// wherever it stands, rather than trusted to a parser that just failed.
	s := urlPassword.ReplaceAllString(dsn, "${1}xxxxx@")
	s = paramPassword.ReplaceAllString(s, "${1}xxxxx")
	return kvPassword.ReplaceAllString(s, "password=xxxxx")
}

var (
	// urlPassword is user:password@ after the scheme, up to the last @.
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)\S*@`)
	// paramPassword is a password=... query parameter.
	paramPassword = regexp.MustCompile(`(?i)([?&]password=)[^&\s]*`)
	// kvPassword is a password=value pair, the value maybe quoted.
	kvPassword = regexp.MustCompile(`(?i)\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)
)

// TableExists reports whether the table exists (a component that never ran
// has none).
func (d Dialect) TableExists(ctx context.Context, db *sql.DB, table string) (bool, error) {
	var n int
	var err error
	if d == Postgres {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
	} else {
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("looking for table %s: %w", table, err)
	}
	return n > 0, nil
}

// InIDs is the condition "col is one of the ids in the parameter param",
// whose value IDList makes: one parameter however many ids there are.
func (d Dialect) InIDs(col, param string) string {
	if d == Postgres {
		return col + ` = ANY(` + param + `::bigint[])`
	}
	return col + ` IN (SELECT value FROM json_each(` + param + `))`
}

// IDList encodes ids as the parameter InIDs reads.
func (d Dialect) IDList(ids []int64) string {
	open, close := byte('['), byte(']')
	if d == Postgres {
		open, close = '{', '}'
	}
	b := make([]byte, 0, 2+len(ids)*8)
	b = append(b, open)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(append(b, close))
}

// JSONText is the text of the top-level key of the JSON held in the text
// column col (NULL when absent).
func (d Dialect) JSONText(col, key string) string {
	if d == Postgres {
		return `(` + col + `::jsonb ->> '` + key + `')`
	}
	return `json_extract(` + col + `, '$.` + key + `')`
}

// Lock takes a lock named name that holds across every process using the
// database, waiting for it, and returns its release. On PostgreSQL it is a
// session advisory lock on a connection of its own (so two replicas starting
// at once do not both migrate); SQLite needs none, since its write
// transactions are already exclusive (BEGIN IMMEDIATE).
func Lock(ctx context.Context, db *sql.DB, name string) (release func(), err error) {
	if DialectOf(db) != Postgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("taking the %s lock: %w", name, err)
	}
	key := LockKey(name)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("taking the %s lock: %w", name, err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, nil
}

// LockKey is the advisory lock number of a lock name.
func LockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("crier:" + name))
	return int64(h.Sum64())
}

// Pick returns the statement written for d: sqlite or postgres.
func (d Dialect) Pick(sqlite, postgres string) string {
	if d == Postgres {
		return postgres
	}
	return sqlite
}

// ForUpdate is the clause that locks the rows a SELECT in a transaction
// reads until it ends (PostgreSQL); SQLite's write transactions already
// hold the database (BEGIN IMMEDIATE), so it is empty there.
func (d Dialect) ForUpdate() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// SkipLocked is ForUpdate of the rows of table (a name or alias) that
// passes over rows another transaction holds instead of waiting for them:
// several replicas claim different rows at once.
func (d Dialect) SkipLocked(table string) string {
	if d == Postgres {
		return " FOR UPDATE OF " + table + " SKIP LOCKED"
	}
	return ""
}
