package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierhq/crier/subscribers"
)

func (c *Console) noNewsletter(w http.ResponseWriter, r *http.Request, s Session) bool {
	if c.opts.Subscribers != nil {
		return false
	}
	c.render(w, r, s, "forbidden", map[string]any{"Message": "The newsletter is not enabled (channels.email in config.yaml), so there are no supporters to show."})
	return true
}

func (c *Console) supporters(w http.ResponseWriter, r *http.Request, s Session) {
	c.showSupporters(w, r, s, "", "", http.StatusOK)
}

func (c *Console) showSupporters(w http.ResponseWriter, r *http.Request, s Session, notice, problem string, status int) {
	if c.noNewsletter(w, r, s) {
		return
	}
	ctx := r.Context()
	counts, asOf, err := c.counts.get(ctx, c.opts.Subscribers, c.opts.Now)
	if err != nil {
		c.serverError(w, r, "counting supporters", err)
		return
	}
	q := strings.ToLower(strings.TrimSpace(r.FormValue("q")))
	var found []subscribers.Subscriber
	if q != "" {
		if found, err = c.searchSupporters(ctx, q); err != nil {
			c.serverError(w, r, "searching supporters", err)
			return
		}
	}
	w.WriteHeader(status)
	c.render(w, r, s, "supporters", map[string]any{"Counts": []struct {
		Label string
		N     int
	}{{"Confirmed", counts[subscribers.Confirmed]}, {"Waiting for confirmation", counts[subscribers.Unconfirmed]},
		{"Unsubscribed", counts[subscribers.Unsubscribed]}, {"Bounced", counts[subscribers.Bounced]}},
		"Q": q, "Found": found, "Notice": notice, "Problem": problem, "AsOf": c.showTime(asOf)})
}

// countCache keeps the supporters' counts by status: counting a million
// rows takes a tenth of a second, so the page shows counts at most
// countsMaxAge old and refreshes them in the background.
type countCache struct {
	mu         sync.Mutex
	counts     map[subscribers.Status]int
	at         time.Time
	refreshing bool
}

const countsMaxAge = 30 * time.Second

func (cc *countCache) get(ctx context.Context, st *subscribers.Store, now func() time.Time) (map[subscribers.Status]int, time.Time, error) {
	cc.mu.Lock()
	counts, at, stale := cc.counts, cc.at, now().Sub(cc.at) > countsMaxAge
	if counts != nil && stale && !cc.refreshing {
		cc.refreshing = true
		go cc.refresh(context.WithoutCancel(ctx), st, now)
	}
	cc.mu.Unlock()
	if counts != nil {
		return counts, at, nil
	}
	return cc.refresh(ctx, st, now)
}

func (cc *countCache) refresh(ctx context.Context, st *subscribers.Store, now func() time.Time) (map[subscribers.Status]int, time.Time, error) {
	at := now()
	counts, err := st.CountByStatus(ctx)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.refreshing = false
	if err != nil {
		return nil, time.Time{}, err
	}
	cc.counts, cc.at = counts, at
	return counts, at, nil
}

// invalidate makes the next page count again (after a change made here).
func (cc *countCache) invalidate() {
	cc.mu.Lock()
	cc.counts = nil
	cc.mu.Unlock()
}

// searchSupporters finds up to 50 supporters whose address starts with q
// (addresses are stored lower-case; the range uses the unique index).
func (c *Console) searchSupporters(ctx context.Context, q string) ([]subscribers.Subscriber, error) {
	rows, err := c.db().QueryContext(ctx, `SELECT id FROM subscribers WHERE email >= $1 AND email < $2 ORDER BY email LIMIT 50`, q, q+"\U0010FFFF")
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	var out []subscribers.Subscriber
	for _, id := range ids {
		sub, err := c.opts.Subscribers.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

func (c *Console) supporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	if sub, ok := c.pathSupporter(w, r); ok {
		c.showSupporter(w, r, s, sub, "", "", http.StatusOK)
	}
}

// pathSupporter reads the supporter the URL's {id} names; it answers 404
// or 500 itself and reports false.
func (c *Console) pathSupporter(w http.ResponseWriter, r *http.Request) (subscribers.Subscriber, bool) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	sub, err := c.opts.Subscribers.Get(r.Context(), id)
	if errors.Is(err, subscribers.ErrNotFound) {
		http.NotFound(w, r)
		return sub, false
	}
	if err != nil {
		c.serverError(w, r, "reading the supporter", err)
		return sub, false
	}
	return sub, true
}

// showSupporter renders a supporter's page with their consent history,
// where a bounce's event says its reason in plain words.
func (c *Console) showSupporter(w http.ResponseWriter, r *http.Request, s Session, sub subscribers.Subscriber, notice, problem string, status int) {
	hist, err := c.opts.Subscribers.History(r.Context(), sub.ID)
	if err != nil {
		c.serverError(w, r, "reading the consent history", err)
		return
	}
	w.WriteHeader(status)
	c.render(w, r, s, "supporter", map[string]any{"Sub": sub, "History": hist, "Notice": notice, "Problem": problem,
		"CanRestore": sub.Status == subscribers.Bounced && c.opts.Reconfirm != nil})
}

// restoreSupporter asks a supporter a bounce dropped to confirm again: a
// fresh confirmation mail; they are back on the list (with a new consent
// event) only once they follow its link.
func (c *Console) restoreSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	sub, ok := c.pathSupporter(w, r)
	if !ok {
		return
	}
	if c.opts.Reconfirm == nil {
		c.showSupporter(w, r, s, sub, "", "The newsletter cannot send mail: nothing was sent.", http.StatusConflict)
		return
	}
	err := c.opts.Reconfirm(r.Context(), sub.ID, "console: restored after a bounce by "+s.User.Email)
	switch {
	case errors.Is(err, subscribers.ErrInvalid):
		c.showSupporter(w, r, s, sub, "", "Not sent: "+err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		c.serverError(w, r, "sending the confirmation mail", err)
	default:
		c.opts.Logger.Info("console: confirmation mail sent to restore a bounced supporter", "subscriber", sub.ID, "by", s.User.ID)
		c.showSupporter(w, r, s, sub, "A confirmation mail went to "+sub.Email+": they are back on the list once they follow its link.", "", http.StatusOK)
	}
}

func (c *Console) addSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	if r.PostFormValue("consent") == "" {
		c.showSupporters(w, r, s, "", "Tick that this person agreed to receive the newsletter: Crier only adds supporters who consented.", http.StatusUnprocessableEntity)
		return
	}
	sub, err := c.opts.Subscribers.Add(r.Context(), subscribers.Subscriber{
		Email: r.PostFormValue("email"), Name: strings.TrimSpace(r.PostFormValue("name")), Status: subscribers.Confirmed,
		ConsentAt: c.opts.Now().UTC(), ConsentSource: "console: added by " + s.User.Email,
	})
	if err != nil {
		c.showSupporters(w, r, s, "", "Not added: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	c.counts.invalidate()
	c.showSupporters(w, r, s, "Added "+sub.Email+".", "", http.StatusOK)
}

func (c *Console) removeSupporter(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	email := r.PostFormValue("email")
	err := c.opts.Subscribers.Delete(r.Context(), email)
	switch {
	case errors.Is(err, subscribers.ErrNotFound):
		c.showSupporters(w, r, s, "", "No supporter has that address (Crier will still refuse it on a future import).", http.StatusNotFound)
	case err != nil && errors.Is(err, subscribers.ErrInvalid):
		c.showSupporters(w, r, s, "", err.Error(), http.StatusUnprocessableEntity)
	case err != nil:
		c.serverError(w, r, "removing the supporter", err)
	default:
		c.opts.Logger.Info("console: supporter erased", "by", s.User.ID)
		c.counts.invalidate()
		c.showSupporters(w, r, s, "Removed the supporter and erased their data.", "", http.StatusOK)
	}
}

func (c *Console) exportSupporters(w http.ResponseWriter, r *http.Request, s Session) {
	if c.noNewsletter(w, r, s) {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="supporters.csv"`)
	if _, err := c.opts.Subscribers.Export(r.Context(), w, ""); err != nil {
		c.opts.Logger.Error("console: exporting supporters", "err", err)
	}
}

// importJob is a CSV import running in the background, followed by its page.
type importJob struct {
	ID       string
	UserID   int64
	Name     string
	Size     int64
	read     atomic.Int64
	rows     atomic.Int64
	mu       sync.Mutex
	done     bool
	err      error
	report   subscribers.ImportReport
	started  time.Time
	finished time.Time
}

type imports struct {
	mu sync.Mutex
	m  map[string]*importJob
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
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
	// Copy to a temporary file: the import outlives this request.
	tmp, err := os.CreateTemp("", "crier-import-*.csv")
	if err != nil {
		file.Close()
		c.serverError(w, r, "receiving the file", err)
		return
	}
	size, err := io.Copy(tmp, file)
	file.Close()
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		c.serverError(w, r, "receiving the file", err)
		return
	}
	job := &importJob{ID: randomToken()[:16], UserID: s.User.ID, Name: hdr.Filename, Size: size, started: c.opts.Now()}
	c.imports.mu.Lock()
	c.imports.m[job.ID] = job
	c.imports.mu.Unlock()
	consented := r.PostFormValue("consented") != ""
	go c.runImport(job, tmp, consented, s.User.Email)
	http.Redirect(w, r, "/supporters/import/"+job.ID, http.StatusSeeOther)
}

func (c *Console) runImport(job *importJob, f *os.File, consented bool, by string) {
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		job.finish(subscribers.ImportReport{}, err, c.opts.Now())
		return
	}
	rep, err := c.opts.Subscribers.Import(context.Background(), countingReader{f, &job.read}, subscribers.ImportOptions{
		Source: "import:" + job.Name + " (console, " + by + ")", Consented: consented,
		Progress: func(rows int) { job.rows.Store(int64(rows)) },
	})
	job.finish(rep, err, c.opts.Now())
	c.counts.invalidate()
}

func (j *importJob) finish(rep subscribers.ImportReport, err error, now time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done, j.err, j.report, j.finished = true, err, rep, now
}

func (c *Console) importStatus(w http.ResponseWriter, r *http.Request, s Session) {
	c.imports.mu.Lock()
	job := c.imports.m[r.PathValue("id")]
	c.imports.mu.Unlock()
	if job == nil || job.UserID != s.User.ID {
		http.NotFound(w, r)
		return
	}
	job.mu.Lock()
	done, err, rep := job.done, job.err, job.report
	job.mu.Unlock()
	pct := 100
	if !done && job.Size > 0 {
		pct = int(job.read.Load() * 100 / job.Size)
	}
	data := map[string]any{"Job": job, "Done": done, "Percent": pct, "Rows": job.rows.Load(), "Report": rep}
	if err != nil {
		data["Error"] = fmt.Sprintf("The import stopped: %v", err)
	}
	if !done {
		// Without script the page refreshes itself; with it, console.js polls.
		w.Header().Set("Refresh", "2")
	}
	c.render(w, r, s, "import", data)
}
