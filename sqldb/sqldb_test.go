package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
)

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// open returns a fresh database of driver and its dialect.
func open(t *testing.T, driver, target string) (*sqlDB, sqldb.Dialect) {
	t.Helper()
	db, pool, err := sqldb.OpenPool(context.Background(), driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if (pool != nil) != (driver == "postgres") {
		t.Fatalf("%s: pgx pool %v; want one on PostgreSQL only", driver, pool)
	}
	d := sqldb.DialectOf(db)
	if string(d) != driver {
		t.Fatalf("DialectOf = %q, want %q", d, driver)
	}
	return &sqlDB{db}, d
}

// TestDialectHelpersOnBothDatabases runs each dialect helper's SQL on the
// database it is written for: the statements that must differ are checked
// where they run, not by reading them.
func TestDialectHelpersOnBothDatabases(t *testing.T) {
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		db, d := open(t, driver, target)
		if ok, err := d.TableExists(ctx, db.DB, "things"); err != nil || ok {
			t.Fatalf("TableExists before CREATE = %v, %v", ok, err)
		}
		db.exec(t, `CREATE TABLE things (id BIGINT PRIMARY KEY, doc TEXT NOT NULL)`)
		if ok, err := d.TableExists(ctx, db.DB, "things"); err != nil || !ok {
			t.Fatalf("TableExists after CREATE = %v, %v", ok, err)
		}
		for i, doc := range []string{`{"lang":"fr"}`, `{"lang":"de"}`, `{}`, `{"lang":"it"}`} {
			db.exec(t, `INSERT INTO things (id, doc) VALUES ($1, $2)`, i+1, doc)
		}
		// InIDs/IDList: the ids asked for, none other, none for an empty list.
		got := db.ids(t, `SELECT id FROM things WHERE `+d.InIDs("id", "$1")+` ORDER BY id`, d.IDList([]int64{4, 2, 99}))
		if want := "2,4"; got != want {
			t.Errorf("InIDs(2,4,99) = %s, want %s", got, want)
		}
		if got := db.ids(t, `SELECT id FROM things WHERE `+d.InIDs("id", "$1"), d.IDList(nil)); got != "" {
			t.Errorf("InIDs(empty) = %s, want nothing", got)
		}
		// JSONText: the key's text, NULL when the key is absent.
		got = db.ids(t, `SELECT id FROM things WHERE `+d.JSONText("doc", "lang")+` = 'de'`)
		if got != "2" {
			t.Errorf("JSONText = 'de' matched %s, want 2", got)
		}
		got = db.ids(t, `SELECT id FROM things WHERE `+d.JSONText("doc", "lang")+` IS NULL`)
		if got != "3" {
			t.Errorf("JSONText IS NULL matched %s, want 3", got)
		}
		// ForUpdate and SkipLocked are valid where they go.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT t.id FROM things t WHERE t.id > 1 ORDER BY t.id LIMIT 2`+d.SkipLocked("t")+`) s`).Scan(&n); err != nil {
			t.Fatalf("SkipLocked: %v", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT id FROM things WHERE id = 1`+d.ForUpdate()).Scan(&n); err != nil {
			t.Fatalf("ForUpdate: %v", err)
		}
		if got := d.Pick("a", "b"); (driver == "postgres") != (got == "b") {
			t.Errorf("Pick on %s = %s", driver, got)
		}
	})
}

// TestSkipLockedPassesOverHeldRows: two transactions claiming the next two
// rows take different rows, the way replicas claim newsletter recipients.
func TestSkipLockedPassesOverHeldRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, d := open(t, "postgres", pgpeer.DSN(t))
	db.exec(t, `CREATE TABLE queue (id BIGINT PRIMARY KEY)`)
	db.exec(t, `INSERT INTO queue SELECT generate_series(1, 6)`)
	q := `SELECT id FROM queue q ORDER BY id LIMIT 2` + d.SkipLocked("q")
	tx1, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	tx2, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx2.Rollback()
	first, second := txIDs(t, tx1, q), txIDs(t, tx2, q)
	if first != "1,2" || second != "3,4" {
		t.Errorf("claims took %s and %s, want 1,2 and 3,4", first, second)
	}
}

// TestLockHoldsAcrossConnections: a second taker of the same lock waits
// until the first releases it (two replicas migrating at once take turns);
// another name does not wait.
func TestLockHoldsAcrossConnections(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	target := pgpeer.DSN(t)
	a, _ := open(t, "postgres", target)
	b, _ := open(t, "postgres", target)
	release, err := sqldb.Lock(ctx, a.DB, "migrate")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sqldb.Lock(ctx, b.DB, "something else")
	if err != nil {
		t.Fatal(err)
	}
	other()
	var got atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, err := sqldb.Lock(ctx, b.DB, "migrate")
		if err != nil {
			t.Error(err)
			return
		}
		got.Store(true)
		r()
	}()
	// Not a timing assertion: whatever the wait, the second taker must not
	// hold the lock while the first does.
	time.Sleep(300 * time.Millisecond)
	if got.Load() {
		t.Fatal("a second process took the lock while the first held it")
	}
	release()
	<-done
	if !got.Load() {
		t.Fatal("the second taker never got the lock after it was released")
	}
	if sqldb.LockKey("migrate") == sqldb.LockKey("something else") {
		t.Error("two lock names share a key")
	}
}

// TestClosingTheDBClosesThePool: the pgx pool under a PostgreSQL *sql.DB
// goes with it (no connections left behind by a closed store).
func TestClosingTheDBClosesThePool(t *testing.T) {
	t.Parallel()
	db, pool, err := sqldb.OpenPool(context.Background(), "postgres", pgpeer.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := pool.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := pool.Ping(context.Background()); err == nil {
		t.Error("the pool still answers after the *sql.DB was closed")
	}
}

// TestOpenErrorsSayWhatIsWrong: a wrong driver or an empty or unreachable
// DSN is an error that names the problem and never shows the password.
func TestOpenErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := sqldb.Open(ctx, "mysql", "x"); err == nil || !strings.Contains(err.Error(), `unknown database driver "mysql"`) {
		t.Errorf("unknown driver: %v", err)
	}
	if _, err := sqldb.Open(ctx, "postgres", ""); err == nil || !strings.Contains(err.Error(), "store.dsn is empty") {
		t.Errorf("empty DSN: %v", err)
	}
	// A connection string with a typo: the error says so, without the
	// password (pgx's own message redacts it; ours must too).
	_, err := sqldb.Open(ctx, "postgres", "postgres://crier:s3cret-pw@db:54x2/crier")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "connection string") {
		t.Errorf("broken DSN: %v", err)
	}
	// A port nothing listens on (port 1 on loopback) with a password.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = sqldb.Open(cctx, "postgres", "postgres://crier:s3cret-pw@127.0.0.1:1/crier?connect_timeout=2")
	if err == nil {
		t.Fatal("connecting to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "connecting to PostgreSQL") {
		t.Errorf("unreachable server: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Errorf("unreachable server gave up on its own context: %v", err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://crier:pw@db:5432/crier?sslmode=verify-full": "postgres://crier:xxxxx@db:5432/crier?sslmode=verify-full",
		"postgres://crier@db/crier?password=pw&sslmode=require": "postgres://crier@db/crier?password=xxxxx&sslmode=require",
		"host=db user=crier password=pw dbname=crier":           "host=db user=crier password=xxxxx dbname=crier",
		"host=db user=crier PASSWORD=pw":                        "host=db user=crier password=xxxxx",
		"postgres://crier@db/crier":                             "postgres://crier@db/crier",
		// Not URLs that parse: the password goes all the same.
		"postgres://crier:pw@db:notaport/crier":                   "postgres://crier:xxxxx@db:notaport/crier",
		"postgres://crier:p@ss@db:5432/crier":                     "postgres://crier:xxxxx@db:5432/crier",
		"postgres://crier@db:x/crier?sslmode=require&password=pw": "postgres://crier@db:x/crier?sslmode=require&password=xxxxx",
		"host=db password='two words' user=crier":                 "host=db password=xxxxx user=crier",
		"host=db password = pw user=crier":                        "host=db password=xxxxx user=crier",
	} {
		if got := sqldb.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// sqlDB is a *sql.DB with the tests' shorthands.
type sqlDB struct{ *sql.DB }

func (db *sqlDB) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// ids runs a query of ids and returns them joined with commas.
func (db *sqlDB) ids(t *testing.T, q string, args ...any) string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return joinIDs(t, rows)
}

func txIDs(t *testing.T, tx *sql.Tx, q string) string {
	t.Helper()
	rows, err := tx.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return joinIDs(t, rows)
}

func joinIDs(t *testing.T, rows *sql.Rows) string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, strconv.FormatInt(id, 10))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, ",")
}
