package subscribers

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/internal/csvsafe"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Source is recorded as each row's consent source, e.g.
	// "import:members.csv".
	Source string
	// DryRun checks every row (including against the list) and writes
	// nothing.
	DryRun bool
	// Consented says the organiser has every row's consent on record (for
	// example from a tool that did double opt-in): rows without a status or
	// consent_at column value are imported as confirmed, with the import time
	// as their consent time. Without it such rows are imported unconfirmed,
	// and an unconfirmed supporter is never sent a newsletter.
	Consented bool
	// Progress, if set, is called now and then with the number of rows read.
	Progress func(rows int)
	// Committed, if set, is called after each batch is written with the
	// report so far: the first rep.Rows rows are then handled for good, and
	// an import stopped later added none of the rows after them.
	Committed func(rep ImportReport)
	// KeepRejected, if above zero, keeps only the first KeepRejected
	// rejected rows in the report and counts the rest in MoreRejected, so
	// a file of bad rows costs no memory per row.
	KeepRejected int
}

// The caps on one row of an import, so that a file's cost in memory is
// that of a row, not of the file: a field longer than MaxImportField
// rejects its row; a row longer than MaxImportRow (quoted line breaks
// included) stops the import there, since the rest of the file cannot be
// read as rows after it. A supporter's row, consent history included, is
// far below both.
const (
	MaxImportField = 64 << 10
	MaxImportRow   = 1 << 20
)

// ErrRowTooLong is the error of an import stopped by a row longer than
// MaxImportRow.
var ErrRowTooLong = errors.New("a row is longer than 1 MiB, the limit per row")

// rowLimit is the reader under the CSV parser: it refuses to read more
// than max bytes (and its read-ahead) past the start of the current row, so
// a row without end cannot grow the parser's buffers.
type rowLimit struct {
	r              io.Reader
	read, rowStart int64
	max            int64
}

// readAhead is what the buffered reader above rowLimit may hold beyond the
// row (bufio's default size).
const readAhead = 4096

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.read-l.rowStart > l.max+readAhead {
		return 0, ErrRowTooLong
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// Rejected is one row Import did not take, with why.
type Rejected struct {
	Line   int // line in the file where the row starts
	Email  string
	Reason string
}

// ImportReport says what an import did (or, in a dry run, would do).
type ImportReport struct {
	Rows      int
	Added     int
	Confirmed int // of Added
	// Existing counts addresses already on the list; they are left as they
	// are (an import never overrides a supporter's own unsubscribe).
	Existing int
	Rejected []Rejected
	// MoreRejected counts the rejected rows beyond ImportOptions.KeepRejected.
	MoreRejected int
	// Ignored are columns the importer does not know.
	Ignored []string
}

// reject records a rejected row, unless the report keeps no more.
func (rep *ImportReport) reject(keep int, r Rejected) {
	if keep > 0 && len(rep.Rejected) >= keep {
		rep.MoreRejected++
		return
	}
	rep.Rejected = append(rep.Rejected, r)
}

// Columns Import understands. Only email is required.
var importColumns = []string{"email", "name", "lists", "preference", "language", "consent_at", "status", "consent_source", "consent_ip"}

// consentLayouts are the consent_at formats accepted, most precise first.
var consentLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"}

// Import reads a CSV with a header row naming its columns (email and
// optionally name, lists, consent_at, status; any order; lists separated by
// ";", "|" or ","). A row becomes:
//   - the status in its status column, if any (so an export from another tool
//     keeps its unsubscribed supporters off the list);
//   - else confirmed if it has a consent_at, or if opts.Consented;
//   - else unconfirmed.
//
// The consent source is the row's own consent_source if given, else
// opts.Source. Bad rows are reported, not fatal; an error is returned only
// when the file cannot be read as CSV at all or the database fails. Rows are
// written in batches, each in one transaction. Rows and fields are capped
// (MaxImportRow, MaxImportField).
func (s *Store) Import(ctx context.Context, r io.Reader, opts ImportOptions) (ImportReport, error) {
	var rep ImportReport
	limit := &rowLimit{r: r, max: MaxImportRow}
	br := bufio.NewReaderSize(limit, readAhead)
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, ErrRowTooLong) {
		return rep, fmt.Errorf("reading CSV header: %w; is this the right file?", err)
	}
	if errors.Is(err, io.EOF) {
		return rep, fmt.Errorf("reading CSV: the file is empty; the first line must name the columns, e.g. email,name")
	}
	if err != nil {
		return rep, fmt.Errorf("reading CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(importColumns, h) {
			rep.Ignored = append(rep.Ignored, h)
			continue
		}
		if _, dup := col[h]; dup {
			return rep, fmt.Errorf("reading CSV header: column %q appears twice", h)
		}
		col[h] = i
	}
	if _, ok := col["email"]; !ok {
		return rep, fmt.Errorf("reading CSV header: no email column; the first line must name the columns, e.g. email,name (found %q)", strings.Join(header, ","))
	}
	field := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return unescapeCell(strings.TrimSpace(rec[i]))
	}

	now := s.now().UTC()
	seen := map[string]int{}
	const batch = 500
	var pending []pendingRow
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := s.importBatch(ctx, pending, opts.DryRun, opts.KeepRejected, &rep)
		pending = pending[:0]
		if err == nil && opts.Committed != nil {
			opts.Committed(rep)
		}
		return err
	}
	lastLine := 1
	for {
		limit.rowStart = cr.InputOffset()
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, ErrRowTooLong) {
			// The rows before it were read; those of the last batch are
			// not written yet, so write them and say where it stopped.
			if ferr := flush(); ferr != nil {
				return rep, ferr
			}
			return rep, fmt.Errorf("reading CSV after line %d: %w (a field that long is not a supporter's data); the rows after line %d were not read", lastLine, err, lastLine)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrBareQuote) {
				rep.Rows++
				rep.reject(opts.KeepRejected, Rejected{Line: pe.StartLine, Reason: "a \" inside a field that is not in quotes; quote the field and double the \""})
				continue
			}
			// A broken quoted field swallows the rest of the file: stop.
			return rep, fmt.Errorf("reading CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		lastLine = line
		rep.Rows++
		if opts.Progress != nil && rep.Rows%100 == 0 {
			opts.Progress(rep.Rows)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			rep.Rows--
			continue // blank line
		}
		// A copy: the field shares the row's memory, which may be large.
		raw := strings.Clone(field(rec, "email"))
		reject := func(reason string) {
			rep.reject(opts.KeepRejected, Rejected{Line: line, Email: raw, Reason: reason})
		}
		if i := longField(rec); i >= 0 {
			if len(raw) > 254 {
				raw = strings.Clone(raw[:254])
			}
			reject(fmt.Sprintf("column %d is %d bytes long; the limit per field is 64 KiB", i+1, len(rec[i])))
			continue
		}
		email, err := NormalizeEmail(raw)
		if err != nil {
			reject(reasonOf(err))
			continue
		}
		if first, dup := seen[email]; dup {
			reject(fmt.Sprintf("same address as line %d", first))
			continue
		}
		seen[email] = line
		sub := Subscriber{Email: email, ConsentSource: opts.Source}
		if sub.Name, err = NormalizeName(field(rec, "name")); err != nil {
			reject(reasonOf(err))
			continue
		}
		if l := field(rec, "lists"); l != "" {
			sub.Lists = strings.FieldsFunc(l, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
			if _, err := normalizeLists(sub.Lists); err != nil {
				reject(reasonOf(err))
				continue
			}
		}
		if p := Preference(strings.ToLower(field(rec, "preference"))); p != "" {
			if !p.Valid() {
				reject(fmt.Sprintf("preference %q is not one of each_post, digest, paused", p))
				continue
			}
			sub.Preference = p
		}
		if sub.Language, err = normalizeLanguage(field(rec, "language")); err != nil {
			reject(reasonOf(err))
			continue
		}
		if c := field(rec, "consent_at"); c != "" {
			if sub.ConsentAt, err = parseConsentTime(c); err != nil {
				reject(err.Error())
				continue
			}
			if sub.ConsentAt.After(now) {
				reject(fmt.Sprintf("consent_at %q is in the future", c))
				continue
			}
		}
		if src := field(rec, "consent_source"); src != "" {
			sub.ConsentSource = src
		}
		sub.ConsentIP = field(rec, "consent_ip")
		switch st := Status(strings.ToLower(field(rec, "status"))); {
		case st != "":
			if !st.Valid() {
				reject(fmt.Sprintf("status %q is not one of unconfirmed, confirmed, unsubscribed, bounced", st))
				continue
			}
			sub.Status = st
		case !sub.ConsentAt.IsZero():
			sub.Status = Confirmed
		case opts.Consented:
			sub.Status = Confirmed
			sub.ConsentAt = now
		default:
			sub.Status = Unconfirmed
		}
		pending = append(pending, pendingRow{line: line, raw: raw, sub: detached(sub)})
		if len(pending) == batch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	if err := flush(); err != nil {
		return rep, err
	}
	if opts.Progress != nil {
		opts.Progress(rep.Rows)
	}
	return rep, nil
}

// detached copies the strings of sub that may share the memory of the row
// they were read from, so a batch of rows holds only what it keeps.
func detached(sub Subscriber) Subscriber {
	sub.Name, sub.Language = strings.Clone(sub.Name), strings.Clone(sub.Language)
	sub.ConsentSource, sub.ConsentIP = strings.Clone(sub.ConsentSource), strings.Clone(sub.ConsentIP)
	lists := make([]string, len(sub.Lists))
	for i, l := range sub.Lists {
		lists[i] = strings.Clone(l)
	}
	if sub.Lists != nil {
		sub.Lists = lists
	}
	return sub
}

// longField returns the index of the first field of rec longer than
// MaxImportField, or -1.
func longField(rec []string) int {
	for i, f := range rec {
		if len(f) > MaxImportField {
			return i
		}
	}
	return -1
}

// sniffDelimiter looks at the header line: spreadsheets in many European
// locales save "CSV" with semicolons, and some tools write tabs.
func sniffDelimiter(br *bufio.Reader) rune {
	head, _ := br.Peek(4096)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	switch {
	case bytes.IndexByte(head, ',') >= 0:
		return ','
	case bytes.IndexByte(head, ';') >= 0:
		return ';'
	case bytes.IndexByte(head, '\t') >= 0:
		return '\t'
	}
	return ','
}

type pendingRow struct {
	line int
	raw  string
	sub  Subscriber
}

func (s *Store) importBatch(ctx context.Context, rows []pendingRow, dryRun bool, keep int, rep *ImportReport) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("importing subscribers: %w", err)
	}
	defer tx.Rollback()
	q := &stmtCache{tx: tx, stmts: map[string]*sql.Stmt{}}
	defer q.close()
	for _, r := range rows {
		sub, err := s.add(ctx, q, r.sub, dryRun)
		switch {
		case errors.Is(err, ErrExists):
			rep.Existing++
		case errors.Is(err, ErrSuppressed):
			rep.reject(keep, Rejected{Line: r.line, Email: r.raw, Reason: "the address was erased at its owner's request; they can subscribe again through the form"})
		case errors.Is(err, ErrInvalid):
			rep.reject(keep, Rejected{Line: r.line, Email: r.raw, Reason: reasonOf(err)})
		case err != nil:
			return fmt.Errorf("importing line %d: %w", r.line, err)
		default:
			rep.Added++
			if sub.Status == Confirmed {
				rep.Confirmed++
			}
		}
	}
	if dryRun {
		return nil
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("importing subscribers: %w", err)
	}
	return nil
}

// stmtCache is a querier that prepares each query once per transaction:
// parsing the SQL is most of the cost of an import row otherwise.
type stmtCache struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	st, ok := c.stmts[query]
	if !ok {
		var err error
		if st, err = c.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
		c.stmts[query] = st
	}
	return st
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...) // reports the preparation error
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}

func (c *stmtCache) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}

// reasonOf strips the wrapping from a validation error for a report line.
func reasonOf(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ErrInvalid.Error()+": "); i >= 0 {
		return msg[i+len(ErrInvalid.Error())+2:]
	}
	return msg
}

func parseConsentTime(s string) (time.Time, error) {
	for _, layout := range consentLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("consent_at %q is not a date such as 2024-05-01 or 2024-05-01T09:30:00Z", s)
}

// exportColumns are written by Export; Import reads them back, except the
// times and consent_history, which it reports as ignored (the import's own
// consent record starts the new history).
var exportColumns = []string{"email", "name", "status", "lists", "consent_at", "consent_source", "consent_ip", "created_at", "updated_at", "consent_history", "preference", "language"}

// Export writes the subscribers (of status, or all when it is empty) as CSV
// with their consent records and consent history, in id order, and returns
// how many it wrote. The history is one cell, its events oldest first and
// separated by "; ", each "TIME EVENT [SOURCE] [ip IP]".
func (s *Store) Export(ctx context.Context, w io.Writer, status Status) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(exportColumns); err != nil {
		return 0, fmt.Errorf("writing CSV: %w", err)
	}
	n := 0
	var after int64
	for {
		page, err := s.List(ctx, status, after, 500)
		if err != nil {
			return n, fmt.Errorf("exporting subscribers: %w", err)
		}
		if len(page) == 0 {
			break
		}
		hist, err := s.histories(ctx, page[0].ID, page[len(page)-1].ID)
		if err != nil {
			return n, fmt.Errorf("exporting subscribers: %w", err)
		}
		for _, sub := range page {
			var consent string
			if !sub.ConsentAt.IsZero() {
				consent = sub.ConsentAt.UTC().Format(time.RFC3339)
			}
			n++
			if err := cw.Write([]string{
				escapeCell(sub.Email), escapeCell(sub.Name), string(sub.Status), strings.Join(sub.Lists, ";"),
				consent, escapeCell(sub.ConsentSource), escapeCell(sub.ConsentIP),
				sub.CreatedAt.UTC().Format(time.RFC3339), sub.UpdatedAt.UTC().Format(time.RFC3339),
				escapeCell(formatHistory(hist[sub.ID])),
				string(sub.Preference), sub.Language,
			}); err != nil {
				return n, fmt.Errorf("writing CSV: %w", err)
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("writing CSV: %w", err)
	}
	return n, nil
}

func formatHistory(events []ConsentEvent) string {
	parts := make([]string, 0, len(events))
	for _, e := range events {
		p := e.At.UTC().Format(time.RFC3339) + " " + e.Event
		if e.Source != "" {
			p += " " + strings.ReplaceAll(e.Source, ";", ",")
		}
		if e.IP != "" {
			p += " ip " + e.IP
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// escapeCell keeps a spreadsheet from running a cell as a formula: names come
// from a public form, and "=HYPERLINK(...)" is a valid name (and "=x@y.org" a
// valid address). Import strips the guard again (unescapeCell).
func escapeCell(v string) string { return csvsafe.Cell(v) }

func unescapeCell(v string) string { return csvsafe.Uncell(v) }
