package console

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/crierhq/crier/migrate"
	"github.com/crierhq/crier/subscribers"
)

// Supporters' CSV imports run one at a time, in the background, bound to
// the daemon's lifetime (Options.Lifetime). Each is recorded in
// console_imports as it goes, batch by batch, so its page tells the truth
// after a restart or on another replica: an import the daemon stopped, or
// whose process died, says after how many rows it stopped and that the rows
// after them were not added. Nothing about an import is kept in memory once
// it has ended.

// importsSchema is console_imports: one row per import, at most one
// running (the partial unique index holds that across replicas).
var importsSchema = []string{`
CREATE TABLE console_imports (
	id          TEXT PRIMARY KEY,
	user_id     BIGINT NOT NULL,
	file_name   TEXT NOT NULL,
	size        BIGINT NOT NULL,
	about_rows  BIGINT NOT NULL,
	state       TEXT NOT NULL,
	rows_done   BIGINT NOT NULL DEFAULT 0,
	added       BIGINT NOT NULL DEFAULT 0,
	confirmed   BIGINT NOT NULL DEFAULT 0,
	existing    BIGINT NOT NULL DEFAULT 0,
	rejected    BIGINT NOT NULL DEFAULT 0,
	detail      TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT '',
	started_at  TIMESTAMP NOT NULL,
	beat_at     TIMESTAMP NOT NULL,
	finished_at TIMESTAMP
);
CREATE UNIQUE INDEX console_imports_one_running ON console_imports (state) WHERE state = 'running';
`}

// prepareImports brings console_imports up to date.
func prepareImports(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "console-imports", importsSchema)
}

// The states of an import.
const (
	importRunning     = "running"
	importDone        = "done"
	importFailed      = "failed"      // stopped by the file (a row too long) or the database
	importInterrupted = "interrupted" // stopped by the daemon stopping, or its process died
)

const (
	// importStale is how long a running import may go without writing a
	// batch before it is taken for dead (its process was killed): a batch
	// of 500 rows takes well under a second.
	importStale = 2 * time.Minute
	// importKeep is how long ended imports stay listed.
	importKeep = 30 * 24 * time.Hour
	// rejectedShown is how many rejected rows an import's page lists.
	rejectedShown = 100
)

// importRecord is one row of console_imports.
type importRecord struct {
	ID        string
	UserID    int64
	Name      string
	Size      int64
	AboutRows int64
	State     string
	Report    subscribers.ImportReport // counts; Rejected holds the first rejectedShown
	Rejected  int
	Error     string
	Started   time.Time
	Beat      time.Time
}

// importDetail is what console_imports.detail keeps of a report.
type importDetail struct {
	Rejected []subscribers.Rejected `json:"rejected,omitempty"`
	Ignored  []string               `json:"ignored,omitempty"`
}

// imports holds the running import of this process, if any, so that Stop
// can end it; it is removed when the import ends.
type imports struct {
	mu sync.Mutex
	m  map[string]context.CancelFunc
	wg sync.WaitGroup
}

// errImportRunning refuses a second import while one runs.
type errImportRunning struct {
	name    string
	started time.Time
}

func (e errImportRunning) Error() string {
	return fmt.Sprintf("another import is running (%s, started %s): imports run one at a time; wait for it to end, then upload again", e.name, e.started.UTC().Format("2006-01-02 15:04 MST"))
}

// beginImport records rec as the running import, or returns
// errImportRunning. A running import that has not written for importStale
// is recorded as interrupted first.
func (c *Console) beginImport(ctx context.Context, rec importRecord) error {
	tx, err := c.db().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("recording the import: %w", err)
	}
	defer tx.Rollback()
	if err := c.markStaleImports(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM console_imports WHERE state != $1 AND started_at < $2`, importRunning, rec.Started.Add(-importKeep).UTC()); err != nil {
		return fmt.Errorf("forgetting old imports: %w", err)
	}
	var other errImportRunning
	err = tx.QueryRowContext(ctx, `SELECT file_name, started_at FROM console_imports WHERE state = $1`, importRunning).Scan(&other.name, &other.started)
	if err == nil {
		return other
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("looking for a running import: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO console_imports (id, user_id, file_name, size, about_rows, state, started_at, beat_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, rec.ID, rec.UserID, rec.Name, rec.Size, rec.AboutRows, importRunning, rec.Started.UTC()); err != nil {
		return fmt.Errorf("recording the import: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording the import: %w", err)
	}
	return nil
}

// markStaleImports records running imports whose process has stopped
// writing as interrupted, at their last batch.
func (c *Console) markStaleImports(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}) error {
	if _, err := q.ExecContext(ctx, `UPDATE console_imports SET state = $1, finished_at = beat_at, error = $2 WHERE state = $3 AND beat_at < $4`,
		importInterrupted, "the daemon stopped while importing", importRunning, c.opts.Now().Add(-importStale).UTC()); err != nil {
		return fmt.Errorf("looking for interrupted imports: %w", err)
	}
	return nil
}

// saveImport records an import's progress (state running) or its end.
func (c *Console) saveImport(ctx context.Context, id, state string, rep subscribers.ImportReport, errText string) error {
	d := importDetail{Rejected: rep.Rejected[:min(len(rep.Rejected), rejectedShown)], Ignored: rep.Ignored}
	detail, _ := json.Marshal(d)
	now := c.opts.Now().UTC()
	var finished any
	if state != importRunning {
		finished = now
	}
	if _, err := c.db().ExecContext(ctx, `UPDATE console_imports SET state = $1, rows_done = $2, added = $3, confirmed = $4, existing = $5,
		rejected = $6, detail = $7, error = $8, beat_at = $9, finished_at = $10 WHERE id = $11`,
		state, rep.Rows, rep.Added, rep.Confirmed, rep.Existing, len(rep.Rejected)+rep.MoreRejected, string(detail), errText, now, finished, id); err != nil {
		return fmt.Errorf("recording the import's progress: %w", err)
	}
	return nil
}

// getImport reads one import, recording it as interrupted first if its
// process has stopped writing.
func (c *Console) getImport(ctx context.Context, id string) (importRecord, error) {
	if err := c.markStaleImports(ctx, c.db()); err != nil {
		return importRecord{}, err
	}
	var r importRecord
	var detail string
	err := c.db().QueryRowContext(ctx, `SELECT id, user_id, file_name, size, about_rows, state, rows_done, added, confirmed, existing, rejected,
		detail, error, started_at, beat_at FROM console_imports WHERE id = $1`, id).Scan(&r.ID, &r.UserID, &r.Name, &r.Size, &r.AboutRows,
		&r.State, &r.Report.Rows, &r.Report.Added, &r.Report.Confirmed, &r.Report.Existing, &r.Rejected, &detail, &r.Error, &r.Started, &r.Beat)
	if err != nil {
		return r, err
	}
	var d importDetail
	if detail != "" {
		if err := json.Unmarshal([]byte(detail), &d); err != nil {
			return r, fmt.Errorf("reading import %s: %w", id, err)
		}
	}
	r.Report.Rejected, r.Report.Ignored = d.Rejected, d.Ignored
	return r, nil
}

// lastImport is the user's latest import, if any.
func (c *Console) lastImport(ctx context.Context, userID int64) (importRecord, bool, error) {
	var id string
	err := c.db().QueryRowContext(ctx, `SELECT id FROM console_imports WHERE user_id = $1 ORDER BY started_at DESC LIMIT 1`, userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return importRecord{}, false, nil
	}
	if err != nil {
		return importRecord{}, false, err
	}
	r, err := c.getImport(ctx, id)
	return r, err == nil, err
}

// countingCopy copies src to dst and counts its line feeds.
func countingCopy(dst io.Writer, src io.Reader) (size, lines int64, err error) {
	buf := make([]byte, 64<<10)
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
			if _, err := dst.Write(buf[:n]); err != nil {
				return size, lines, err
			}
			size += int64(n)
		}
		if rerr == io.EOF {
			return size, lines, nil
		}
		if rerr != nil {
			return size, lines, rerr
		}
	}
}

const maxImportBytes = 200 << 20

func (c *Console) importSupporters(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	file, hdr, err := r.FormFile("csv")
	if err != nil {
		c.showSupporters(w, r, s, "", "Choose a CSV file to import (at most 200 MB).", http.StatusUnprocessableEntity)
		return
	}
	defer file.Close()
	// Copy to a temporary file: the import outlives this request.
	tmp, err := os.CreateTemp("", "crier-import-*.csv")
	if err != nil {
		c.serverError(w, r, "receiving the file", err)
		return
	}
	size, lines, err := countingCopy(tmp, file)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		c.serverError(w, r, "receiving the file", err)
		return
	}
	rec := importRecord{ID: randomToken()[:16], UserID: s.User.ID, Name: hdr.Filename, Size: size, AboutRows: max(lines-1, 0), Started: c.opts.Now()}
	if err := c.beginImport(r.Context(), rec); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		var busy errImportRunning
		if errors.As(err, &busy) {
			c.showSupporters(w, r, s, "", "Not imported: "+busy.Error()+".", http.StatusConflict)
			return
		}
		c.serverError(w, r, "starting the import", err)
		return
	}
	ctx, cancel := context.WithCancel(c.lifetime)
	c.imports.mu.Lock()
	c.imports.m[rec.ID] = cancel
	c.imports.wg.Add(1)
	c.imports.mu.Unlock()
	consented := r.PostFormValue("consented") != ""
	go c.runImport(ctx, rec, tmp, consented, s.User.Email)
	http.Redirect(w, r, "/supporters/import/"+rec.ID, http.StatusSeeOther)
}

// runImport imports f, records each written batch and how it ended, and
// forgets the import.
func (c *Console) runImport(ctx context.Context, rec importRecord, f *os.File, consented bool, by string) {
	defer c.imports.wg.Done()
	defer func() {
		c.imports.mu.Lock()
		c.imports.m[rec.ID]()
		delete(c.imports.m, rec.ID)
		c.imports.mu.Unlock()
	}()
	defer os.Remove(f.Name())
	defer f.Close()
	var written subscribers.ImportReport
	rep, err := c.opts.Subscribers.Import(ctx, f, subscribers.ImportOptions{
		Source: "import:" + rec.Name + " (console, " + by + ")", Consented: consented, KeepRejected: rejectedShown,
		Committed: func(rep subscribers.ImportReport) {
			written = rep
			if err := c.saveImport(ctx, rec.ID, importRunning, rep, ""); err != nil && ctx.Err() == nil {
				c.opts.Logger.Error("console: recording an import's progress", "import", rec.ID, "err", err)
			}
		},
	})
	state, errText := importDone, ""
	switch {
	case err != nil && ctx.Err() != nil:
		state, errText, rep = importInterrupted, "the daemon stopped while importing", written
	case err != nil:
		state, errText = importFailed, err.Error()
		if !errors.Is(err, subscribers.ErrRowTooLong) {
			// The batch that failed was not written.
			rep = written
		}
	}
	// Recorded even when the daemon is stopping: that is what the page
	// will say after the restart.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.saveImport(sctx, rec.ID, state, rep, errText); err != nil {
		c.opts.Logger.Error("console: recording the end of an import", "import", rec.ID, "err", err)
	}
	c.opts.Logger.Info("console: import ended", "import", rec.ID, "state", state, "rows", rep.Rows, "added", rep.Added)
	c.counts.invalidate()
}

// Stop ends a running import (recorded as interrupted, with the rows it
// had written) and waits for it to be recorded, up to ctx's end. The
// daemon calls it when it stops.
func (c *Console) Stop(ctx context.Context) error {
	c.imports.mu.Lock()
	for _, cancel := range c.imports.m {
		cancel()
	}
	c.imports.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.imports.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the supporters' import to stop: %w", ctx.Err())
	}
}

func (c *Console) importStatus(w http.ResponseWriter, r *http.Request, s Session) {
	rec, err := c.getImport(r.Context(), r.PathValue("id"))
	if errors.Is(err, sql.ErrNoRows) || (err == nil && rec.UserID != s.User.ID) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		c.serverError(w, r, "reading the import", err)
		return
	}
	c.render(w, r, s, "import", importPage(w, rec))
}

// importPage is the data of an import's page (and its refresh while it runs).
func importPage(w http.ResponseWriter, rec importRecord) map[string]any {
	done := rec.State != importRunning
	pct := 100
	if !done {
		pct = 99
		if rec.AboutRows > 0 {
			pct = min(99, int(int64(rec.Report.Rows)*100/rec.AboutRows))
		}
		// Without script the page refreshes itself; with it, console.js polls.
		w.Header().Set("Refresh", "2")
	}
	data := map[string]any{"Job": rec, "Done": done, "Percent": pct, "Rows": rec.Report.Rows, "Report": rec.Report,
		"Rejected": rec.Rejected, "MoreRejected": rec.Rejected - len(rec.Report.Rejected)}
	switch rec.State {
	case importInterrupted:
		data["Error"] = interruptedText(rec)
	case importFailed:
		data["Error"] = fmt.Sprintf("The import stopped: %s. The first %d rows were handled (%d added); rows after them were not added.", rec.Error, rec.Report.Rows, rec.Report.Added)
	}
	return data
}

func interruptedText(rec importRecord) string {
	return fmt.Sprintf("The import of %s was interrupted (%s) after %d of about %d rows: %d added; rows after row %d were not added. Upload the file again to finish: rows already added are skipped.",
		rec.Name, rec.Error, rec.Report.Rows, rec.AboutRows, rec.Report.Added, rec.Report.Rows)
}
