package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// TestInterruptedImportSaysSoAfterRestart stops the daemon (the console's
// lifetime) in the middle of an import, then serves the same database from
// a new console: the import's page and the supporters page say after how
// many rows it stopped, and exactly those rows are in.
func TestInterruptedImportSaysSoAfterRestart(t *testing.T) {
	t.Parallel()
	lifetime, stopDaemon := context.WithCancel(context.Background())
	defer stopDaemon()
	b := setupImports(t, func(o *Options) { o.Lifetime = lifetime })
	p := b.editor.upload("members.csv", csvOf(100_000))
	if p.status != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", p.status, p.body)
	}
	id := strings.TrimPrefix(p.loc, "/supporters/import/")
	// Stop once a batch is in.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		rec, err := b.c.getImport(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Report.Rows > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no batch was ever written")
		}
	}
	stopDaemon()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The restart: a new console on the same database.
	_, srv := consoleWithSupporters(t, b.bundle, b.subs, nil)
	b.editor.base = srv.URL
	page := b.editor.get(p.loc)
	m := rowsHandledRe.FindStringSubmatch(page.body)
	if page.status != http.StatusOK || !strings.Contains(page.body, "The import of members.csv was interrupted") || m == nil ||
		!strings.Contains(page.body, "Upload the file again to finish: rows already added are skipped") {
		t.Fatalf("the import's page after the restart: %d\n%s", page.status, page.body)
	}
	rows, _ := strconv.Atoi(m[1])
	added, _ := strconv.Atoi(m[3])
	if m[2] != "100000" || rows == 0 || rows >= 100_000 || added != rows {
		t.Errorf("interrupted after %s of about %s rows, %s added", m[1], m[2], m[3])
	}
	counts, err := b.subs.CountByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := counts[subscribers.Unconfirmed] + counts[subscribers.Confirmed]; n != added {
		t.Errorf("the page says %d added; the list holds %d", added, n)
	}
	if sp := b.editor.get("/supporters"); !strings.Contains(sp.body, "The import of members.csv was interrupted") {
		t.Errorf("the supporters page does not say the import was interrupted:\n%s", sp.body)
	}
}

// TestDeadImportIsReportedInterrupted: an import whose process was killed
// (it stopped writing) is shown as interrupted once it is stale, and no
// longer blocks a new import.
func TestDeadImportIsReportedInterrupted(t *testing.T) {
	postgres.EachDriver(t, testDeadImportIsReportedInterrupted)
}

func testDeadImportIsReportedInterrupted(t *testing.T, driver string) {
	b := setupImportsOn(t, driver, nil)
	ctx := context.Background()
	killed := importRecord{ID: "killed0000000000", UserID: 2, Name: "old.csv", Size: 100, AboutRows: 2000, Started: b.now.Now()}
	if err := b.c.beginImport(ctx, killed); err != nil {
		t.Fatal(err)
	}
	if err := b.c.saveImport(ctx, killed.ID, importRunning, subscribers.ImportReport{Rows: 500, Added: 500}, ""); err != nil {
		t.Fatal(err)
	}
	if p := b.editor.upload("new.csv", csvOf(3)); p.status != http.StatusConflict {
		t.Fatalf("while old.csv looks alive: %d", p.status)
	}
	b.now.Add(importStale + time.Second)
	// The editor's session is user 2 (owner 1, editor 2, author 3).
	page := b.editor.get("/supporters/import/" + killed.ID)
	if !strings.Contains(page.body, "The import of old.csv was interrupted (the daemon stopped while importing) after 500 of about 2000 rows: 500 added") {
		t.Fatalf("a dead import's page: %d\n%s", page.status, page.body)
	}
	if p := b.editor.upload("new.csv", csvOf(3)); p.status != http.StatusSeeOther {
		t.Fatalf("after the dead import: %d %s", p.status, p.body)
	}
}
