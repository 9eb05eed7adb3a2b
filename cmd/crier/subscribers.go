package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
)

const subscribersUsage = `Usage: crier subscribers SUBCOMMAND [ARGS]

Manage the newsletter's subscribers.

Subcommands:
  import FILE.csv   add supporters from a CSV file (--dry-run to check it first)
  export [FILE]     write every subscriber with their consent record as CSV
  list              show subscribers (--status to pick one status)
  remove EMAIL      erase a supporter's personal data
  count             count subscribers by status

Run "crier subscribers SUBCOMMAND -h" for a subcommand's flags.
`

func cmdSubscribers(ctx context.Context, app *App, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(app.Stderr, subscribersUsage)
		return usageError{"give a subcommand: import, export, list, remove or count"}
	}
	sub, rest := args[0], args[1:]
	run := map[string]func(context.Context, *App, []string) error{
		"import": subscribersImport,
		"export": subscribersExport,
		"list":   subscribersList,
		"remove": subscribersRemove,
		"count":  subscribersCount,
	}[sub]
	switch {
	case sub == "-h" || sub == "-help" || sub == "--help" || sub == "help":
		fmt.Fprint(app.Stderr, subscribersUsage)
		return nil
	case run == nil:
		fmt.Fprint(app.Stderr, subscribersUsage)
		return usageError{fmt.Sprintf("unknown subcommand %q", sub)}
	}
	return run(ctx, app, rest)
}

func openSubscribers(ctx context.Context, app *App) (*subscribers.Store, error) {
	st, err := app.OpenStore(ctx)
	if err != nil {
		return nil, err
	}
	return subscribers.Open(ctx, st.DB())
}

// parseStatus checks a --status flag value; empty means all.
func parseStatus(s string) (subscribers.Status, error) {
	st := subscribers.Status(strings.ToLower(s))
	if st != "" && !st.Valid() {
		return "", usageError{fmt.Sprintf("--status %q is not one of unconfirmed, confirmed, unsubscribed, bounced", s)}
	}
	return st, nil
}

func subscribersImport(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "subscribers import", "[--dry-run] [--source NAME] [--consented] FILE.csv", `
Adds the supporters in a CSV file. The first line names the columns: email is
required; name, lists (separated by ";"), consent_at (a date such as
2024-05-01 or 2024-05-01T09:30:00Z), status, consent_source and consent_ip
are optional, in any order. A file written by "crier subscribers export" can
be imported as it is.

A row is imported as confirmed when its status column says so, or when it has
a consent_at, or when --consented is given; otherwise it is imported
unconfirmed, and unconfirmed supporters are never sent a newsletter. No
confirmation mail is sent by an import. Addresses already on the list are left
as they are (an import never re-subscribes someone who left), and addresses
erased with "remove" are refused.

Each row's consent source is "import:FILE" (or --source) unless the file has
a consent_source column. Rejected rows are listed with their line and why.`)
	dryRun := fs.Bool("dry-run", false, "check every row and report, but write nothing")
	source := fs.String("source", "", "consent source to record (default \"import:FILE\")")
	consented := fs.Bool("consented", false, "every row's owner has consented to the newsletter (you hold the records): import rows without a status or consent_at as confirmed")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError{"give exactly one CSV file"}
	}
	path := pos[0]
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening import file: %w", err)
	}
	defer f.Close()
	if *source == "" {
		*source = "import:" + filepath.Base(path)
	}
	subs, err := openSubscribers(ctx, app)
	if err != nil {
		return err
	}

	var in io.Reader = f
	opts := subscribers.ImportOptions{Source: *source, DryRun: *dryRun, Consented: *consented}
	var bar *progressBar
	if fi, err := f.Stat(); err == nil && isTerminal(app.Stderr) {
		cr := &countingReader{r: f}
		in = cr
		bar = &progressBar{w: app.Stderr, total: fi.Size(), read: cr}
		opts.Progress = bar.update
	}
	rep, err := subs.Import(ctx, in, opts)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		return fmt.Errorf("importing %s: %w", path, err)
	}
	printImportReport(app.Stdout, path, rep, *dryRun)
	return nil
}

func printImportReport(w io.Writer, path string, rep subscribers.ImportReport, dryRun bool) {
	verb := "added"
	if dryRun {
		verb = "would add"
		fmt.Fprintln(w, "Dry run: nothing was written.")
	}
	fmt.Fprintf(w, "%s: %d rows; %s %d (%d confirmed, %d unconfirmed); %d already on the list; %d rejected.\n",
		path, rep.Rows, verb, rep.Added, rep.Confirmed, rep.Added-rep.Confirmed, rep.Existing, len(rep.Rejected))
	if len(rep.Ignored) > 0 {
		fmt.Fprintf(w, "Ignored columns: %s\n", strings.Join(rep.Ignored, ", "))
	}
	if len(rep.Rejected) > 0 {
		fmt.Fprintln(w, "\nRejected rows:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LINE\tEMAIL\tWHY")
		for _, r := range rep.Rejected {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", r.Line, printable(r.Email), r.Reason)
		}
		tw.Flush()
	}
}

// printable keeps hostile input (line breaks, escape sequences) from
// rewriting the terminal.
func printable(s string) string {
	q := fmt.Sprintf("%q", s)
	if q[1:len(q)-1] == s {
		return s
	}
	return q
}

func subscribersExport(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "subscribers export", "[--status S] [FILE]", `
Writes the subscribers as CSV (email, name, status, lists, consent_at,
consent_source, consent_ip, created_at, updated_at, consent_history) to FILE,
or to standard output. consent_history lists every consent and change of
status, oldest first, separated by "; ". The file holds personal data: it is created readable by you only.
Cells that a spreadsheet would run as a formula are prefixed with '.`)
	status := fs.String("status", "", "only subscribers with this status (unconfirmed, confirmed, unsubscribed, bounced)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	st, err := parseStatus(*status)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageError{"give at most one output file"}
	}
	subs, err := openSubscribers(ctx, app)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		_, err := subs.Export(ctx, app.Stdout, st)
		return err
	}
	path := pos[0]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating export file: %w", err)
	}
	n, err := subs.Export(ctx, f, st)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", path, cerr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stderr, "Wrote %d subscribers to %s.\n", n, path)
	return nil
}

func subscribersList(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "subscribers list", "[--status S] [--json]", `
Shows the subscribers in the order they joined, with their status and where
their consent came from.`)
	status := fs.String("status", "", "only subscribers with this status (unconfirmed, confirmed, unsubscribed, bounced)")
	asJSON := fs.Bool("json", false, "print JSON lines, one subscriber per line")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	st, err := parseStatus(*status)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"list takes no arguments"}
	}
	subs, err := openSubscribers(ctx, app)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(app.Stdout)
		return subs.Each(ctx, st, func(s subscribers.Subscriber) error { return enc.Encode(s) })
	}
	tw := tabwriter.NewWriter(app.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tSTATUS\tCONSENT\tSOURCE")
	n := 0
	err = subs.Each(ctx, st, func(s subscribers.Subscriber) error {
		n++
		consent := "-"
		if !s.ConsentAt.IsZero() {
			consent = s.ConsentAt.UTC().Format(time.DateOnly)
		}
		_, err := fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Email, printable(s.Name), s.Status, consent, printable(s.ConsentSource))
		return err
	})
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(app.Stderr, "No subscribers.")
		return nil
	}
	return tw.Flush()
}

func subscribersRemove(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "subscribers remove", "EMAIL", `
Erases a supporter's personal data (address, name, consent record and
consent history). Only a salted hash of the address is kept, so that a later
import cannot put them back on the list; if they subscribe again through the
form themselves and confirm, that works. Use this for erasure requests; an unsubscribe needs nothing from you.`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageError{"give exactly one address"}
	}
	subs, err := openSubscribers(ctx, app)
	if err != nil {
		return err
	}
	id, err := subs.Erase(ctx, pos[0])
	if id != 0 {
		// The confirmation mails the outbox holds carry the address.
		for _, inst := range app.Instances {
			if e, ok := inst.Settings.(channels.ConfirmationEraser); ok {
				if err := e.EraseConfirmations(app.Config.DataPath("outbox"), id); err != nil {
					return err
				}
			}
		}
	}
	if errors.Is(err, subscribers.ErrNotFound) {
		// Nothing was erased: say so, and fail, so that a typo in the
		// address is noticed. The address is still suppressed against
		// imports, as the supporter asked.
		return fmt.Errorf("%s is not on the list (check the spelling; `crier subscribers list` shows who is); nothing was erased, but imports will now refuse it", printable(pos[0]))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(app.Stdout, "Erased %s. Only a salted hash is kept, so imports cannot add it again.\n", printable(pos[0]))
	return nil
}

func subscribersCount(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "subscribers count", "[--json]", `Counts the subscribers by status.`)
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", pos[0])}
	}
	subs, err := openSubscribers(ctx, app)
	if err != nil {
		return err
	}
	counts, err := subs.CountByStatus(ctx)
	if err != nil {
		return err
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if *asJSON {
		out := map[string]int{"total": total}
		for st, n := range counts {
			out[string(st)] = n
		}
		return json.NewEncoder(app.Stdout).Encode(out)
	}
	for _, st := range []subscribers.Status{subscribers.Confirmed, subscribers.Unconfirmed, subscribers.Unsubscribed, subscribers.Bounced} {
		fmt.Fprintf(app.Stdout, "%-13s %d\n", st, counts[st])
	}
	fmt.Fprintf(app.Stdout, "%-13s %d\n", "total", total)
	return nil
}

// isTerminal reports whether w is a character device (a terminal), without
// a dependency: a progress bar is only drawn there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progressBar draws "[#####     ]  50%  12000 rows" on one terminal line,
// by bytes read of the file (the row count is unknown until the end).
type progressBar struct {
	w     io.Writer
	total int64
	read  *countingReader
	last  time.Time
	drawn bool
}

func (b *progressBar) update(rows int) {
	if now := time.Now(); now.Sub(b.last) >= 100*time.Millisecond {
		b.last = now
		b.draw(rows)
	}
}

func (b *progressBar) draw(rows int) {
	frac := 1.0
	if b.total > 0 {
		frac = min(float64(b.read.n)/float64(b.total), 1)
	}
	const width = 30
	done := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d rows", strings.Repeat("#", done), strings.Repeat(" ", width-done), frac*100, rows)
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
