package newsletter

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
	"github.com/crierhq/crier/subscribers"
)

// TestErasureLeavesNoTrace: a subscriber whose address a server quoted in a
// 4xx reply (as Postfix does when greylisting) is erased; afterwards the
// address is in no table, no row of the send ledger is left for them, and
// the send's total counts the others, on both databases. With SQLite the
// database and WAL files do not hold the address in freed space either
// (PostgreSQL's files are the server's: see docs/operations.md, Erasure).
func TestErasureLeavesNoTrace(t *testing.T) {
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		erasureLeavesNoTrace(t, driver, target)
	})
}

func erasureLeavesNoTrace(t *testing.T, driver, dbPath string) {
	const ada = "ada.lovelace@example.org"
	sk := startSink(t, false)
	sk.rcptReply = func(to string) error {
		if strings.EqualFold(to, ada) {
			return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "<" + to + ">: Recipient address rejected: Greylisted, see https://postgrey.schweikert.ch/help/example.org.html"}
		}
		return nil
	}
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, dbPath, nil)
	ctx := context.Background()
	sub := fx.add(t, ada, "Ada Lovelace", subscribers.Confirmed)
	fx.add(t, "bob@example.org", "Bob", subscribers.Confirmed)
	fx.send(t, samplePost()) // Ada waits for a retry; Bob is sent.

	var lastErr string
	if err := fx.db.QueryRow(`SELECT last_error FROM email_recipients WHERE subscriber_id = $1`, sub.ID).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lastErr, "Greylisted") || strings.Contains(strings.ToLower(lastErr), ada) {
		t.Fatalf("stored 4xx reply %q: want the reply without the address", lastErr)
	}

	if err := fx.subs.Delete(ctx, ada); err != nil {
		t.Fatal(err)
	}
	var rows, total int
	fx.db.QueryRow(`SELECT COUNT(*) FROM email_recipients WHERE subscriber_id = $1`, sub.ID).Scan(&rows)
	fx.db.QueryRow(`SELECT total FROM email_sends`).Scan(&total)
	if rows != 0 || total != 1 {
		t.Fatalf("after erasure: %d ledger rows for the subscriber, send total %d; want 0 and 1", rows, total)
	}
	if where := findInTables(t, fx.db, ada); where != "" {
		t.Fatalf("the address is still in %s", where)
	}
	for _, f := range []string{dbPath, dbPath + "-wal"} {
		if driver != "sqlite" {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(bytes.ToLower(b), []byte(ada)) {
			t.Errorf("the address is still in the bytes of %s (freed space)", filepath.Base(f))
		}
	}
	// The send carries on for the others: it finishes with the erased
	// subscriber simply gone.
	sk.rcptReply = nil
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	ps, err := SendProgress(ctx, fx.db)
	if err != nil || len(ps) != 1 || ps[0].Total != 1 || ps[0].Sent != 1 || ps[0].Pending != 0 {
		t.Fatalf("progress after the erasure: %+v, %v", ps, err)
	}
}

// findInTables names the first table and column holding s (any case).
func findInTables(t *testing.T, db *sql.DB, s string) string {
	t.Helper()
	// Every table, River's included (sqldb.Tables leaves those out).
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if sqldb.DialectOf(db) == sqldb.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	if len(tables) < 5 {
		t.Fatalf("only %d tables to look in: %v", len(tables), tables)
	}
	for _, tb := range tables {
		r, err := db.Query(fmt.Sprintf(`SELECT * FROM %q`, tb))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := r.Columns()
		for r.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			r.Scan(ptrs...)
			for i, v := range vals {
				if strings.Contains(strings.ToLower(fmt.Sprint(v)), s) {
					r.Close()
					return tb + "." + cols[i]
				}
				if b, ok := v.([]byte); ok && bytes.Contains(bytes.ToLower(b), []byte(s)) {
					r.Close()
					return tb + "." + cols[i]
				}
			}
		}
		r.Close()
	}
	return ""
}
