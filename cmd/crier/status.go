package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

type statusPost struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// State is seen, draft, scheduled, published, withdrawn or duplicate.
	State string `json:"state"`
	// DuplicateOf is the published post a duplicate repeats.
	DuplicateOf string `json:"duplicate_of,omitempty"`
	// Source is the post's file or feed item link.
	Source      string           `json:"source,omitempty"`
	Link        string           `json:"link,omitempty"`
	PublishAt   time.Time        `json:"publish_at"`
	PublishedAt *time.Time       `json:"published_at,omitempty"`
	Deliveries  []statusDelivery `json:"deliveries"`
	// Changed is set when the post's file or feed item changed since it
	// was published (Correct then names the command that sends the
	// correction).
	Changed bool   `json:"changed_since_published,omitempty"`
	Correct string `json:"correct,omitempty"`
	// Corrections are its corrections and withdrawals, newest first.
	Corrections []store.Correction `json:"corrections,omitempty"`
}

// statusDelivery is a ledger row as organisers read it: a delivery to the
// local outbox is "rendered", never "sent", and a failed one names the
// command that retries it.
type statusDelivery struct {
	store.Delivery
	// Retry is the command that queues a failed delivery again.
	Retry string `json:"retry,omitempty"`
}

// Delivery states only crier status shows.
const stateRendered = "rendered"

// statusReport is what `crier status --json` and GET /admin/status show.
type statusReport struct {
	Posts []statusPost `json:"posts"`
	// PostProblems are post files the daemon cannot read (skipped until
	// fixed).
	PostProblems []store.PostProblem `json:"post_problems"`
	// NewsletterSends are the sends of channels that report their own
	// progress (channels.SendReporter: the newsletter's), each as the
	// channel records it.
	NewsletterSends []any `json:"newsletter_sends"`
	// sends are the same sends as their channels report them.
	sends []channels.SendReport
}

// loadStatus reads the newest posts with their deliveries, and the
// newsletter sends.
func loadStatus(ctx context.Context, reg *channels.Registry, st *store.Store, posts markdown.Reader, limit int) (statusReport, error) {
	rep := statusReport{Posts: []statusPost{}, PostProblems: []store.PostProblem{}, NewsletterSends: []any{}}
	recent, err := st.RecentPosts(ctx, limit)
	if err != nil {
		return rep, err
	}
	for _, sp := range recent {
		ds, err := st.Deliveries(ctx, sp.Post.ID)
		if err != nil {
			return rep, err
		}
		p := newStatusPost(sp, ds)
		if p.Corrections, err = st.Corrections(ctx, sp.Post.ID); err != nil {
			return rep, err
		}
		// A file that no longer reads is reported under post_problems.
		if p.Changed, _, _ = bot.Changed(ctx, st, posts, sp); p.Changed {
			p.Correct = "crier correct " + sp.Post.ID
		}
		rep.Posts = append(rep.Posts, p)
	}
	problems, err := st.PostProblems(ctx)
	if err != nil {
		return rep, err
	}
	rep.PostProblems = append(rep.PostProblems, problems...)
	for _, typ := range reg.Types() {
		p, _ := reg.Provider(typ)
		if r, ok := p.(channels.SendReporter); ok {
			sends, err := r.SendReports(ctx, st.DB(), "")
			if err != nil {
				return rep, err
			}
			for _, s := range sends {
				rep.NewsletterSends = append(rep.NewsletterSends, s.Detail)
			}
			rep.sends = append(rep.sends, sends...)
		}
	}
	return rep, nil
}

func newStatusPost(sp store.StoredPost, ds []store.Delivery) statusPost {
	p := statusPost{ID: sp.Post.ID, Title: sp.Post.Title, State: string(sp.State), DuplicateOf: sp.DuplicateOf,
		Source: sp.Post.Source.Ref, Link: sp.Post.Link, PublishAt: sp.Post.PublishAt, Deliveries: []statusDelivery{}}
	if !sp.PublishedAt.IsZero() {
		p.PublishedAt = &sp.PublishedAt
	}
	if p.PublishAt.IsZero() {
		// Stored before its time was pinned: the day Crier first saw it.
		p.PublishAt = sp.CreatedAt
	}
	for _, d := range ds {
		sd := statusDelivery{Delivery: d}
		if d.State == store.DeliverySent && d.Outbox {
			sd.State = stateRendered
		}
		if d.State == store.DeliveryFailed || d.State == store.DeliveryUnknown {
			sd.Retry = fmt.Sprintf("crier retry %s --channel %s", d.PostID, d.Channel)
		}
		p.Deliveries = append(p.Deliveries, sd)
	}
	return p
}

// statusHandler serves the same report as JSON, for organisers' tools
// (mounted behind the admin token).
func statusHandler(reg *channels.Registry, st *store.Store, posts markdown.Reader) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 20
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 500 {
			limit = n
		}
		rep, err := loadStatus(r.Context(), reg, st, posts, limit)
		if err != nil {
			http.Error(w, "reading the status failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(rep)
	})
}

func cmdStatus(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "status", "[--json] [--limit N]", `
Shows recent posts (published, scheduled, draft, withdrawn, or duplicate of a
post already published from another source) with each channel's delivery
state: pending, sending, sent, rendered (to the local outbox: nothing was
sent), failed or unknown, with attempts, the last error, a note when a sent
delivery left something out (an image that could not be fetched), where it
went and, for a failed delivery, the crier retry command that tries again.
A published post whose file or feed item changed since is marked "changed
since published" with the crier correct command that sends the correction;
its corrections and withdrawals are listed with each channel's result.
Then post files that cannot be read, and the progress of newsletter sends.`)
	asJSON := fs.Bool("json", false, "print as JSON")
	limit := fs.Int("limit", 20, "how many recent posts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	rep, err := loadStatus(ctx, app.Registry, st, app.postReader(), *limit)
	if err != nil {
		return err
	}
	out, progress := rep.Posts, rep.sends
	if *asJSON {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(app.Stdout, string(b))
		return nil
	}
	if len(out) == 0 {
		fmt.Fprintln(app.Stdout, "No posts yet. Put Markdown posts in the posts folder or configure a feed, then `crier run`.")
	}
	printPosts(app.Stdout, out, app.showTime)
	if len(rep.PostProblems) > 0 {
		fmt.Fprintln(app.Stdout, "\nPost files that cannot be read (skipped until fixed; `crier validate` explains):")
		for _, pp := range rep.PostProblems {
			fmt.Fprintf(app.Stdout, "  %s (since %s)\n", pp.File, app.showTime(pp.Since))
			for _, line := range strings.Split(pp.Problem, "\n") {
				fmt.Fprintf(app.Stdout, "    %s\n", line)
			}
		}
	}
	if len(progress) > 0 {
		fmt.Fprintln(app.Stdout, "\nNewsletter sends:")
		for _, p := range progress {
			b, _ := json.Marshal(p.Detail)
			fmt.Fprintf(app.Stdout, "  %s\n", b)
			if p.Warning != "" {
				fmt.Fprintf(app.Stdout, "  WARNING %s: %s\n", p.ID, p.Warning)
			}
		}
	}
	return nil
}

// printPosts writes the posts table; show formats times (in the
// campaign's zone).
func printPosts(w io.Writer, posts []statusPost, show func(time.Time) string) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	for _, p := range posts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, p.State, show(p.PublishAt), p.Title)
		if p.DuplicateOf != "" {
			fmt.Fprintf(tw, "  └ duplicate of %s (same link, already published): not sent again\n", p.DuplicateOf)
		}
		if p.Changed {
			fmt.Fprintf(tw, "  └ changed since published\tits source reads differently from what went out; `%s` sends the correction\n", p.Correct)
		}
		for _, c := range p.Corrections {
			fmt.Fprintln(tw, correctionLine(c, show))
		}
		for _, d := range p.Deliveries {
			where := d.RemoteURL
			state := string(d.State)
			if d.State == stateRendered {
				state = "rendered to outbox"
				where = strings.TrimPrefix(where, "file://")
			}
			line := fmt.Sprintf("  └ %s\t%s\tattempts %d\t%s", d.Channel, state, d.Attempts, where)
			switch {
			case d.State == store.DeliverySkipped:
				// Not a failure: the note says why nothing went out.
				line += "\tnote: " + d.LastError
			case d.LastError != "" && d.State != store.DeliverySent && d.State != stateRendered:
				line += "\terror: " + d.LastError
			}
			if d.Note != "" {
				line += "\tnote: " + d.Note
			}
			if d.Retry != "" {
				line += "\tretry: " + d.Retry
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
}

// correctionLine is one correction or withdrawal as crier status shows it.
func correctionLine(c store.Correction, show func(time.Time) string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  └ %s %d by %s, %s: %s", c.Kind, c.Revision, c.By, show(c.CreatedAt), c.State)
	if c.Note != "" {
		fmt.Fprintf(&b, "\t%q", c.Note)
	}
	for _, r := range c.Results {
		fmt.Fprintf(&b, "\t%s %s", r.Channel, r.State)
		if r.LastError != "" {
			fmt.Fprintf(&b, " (%s)", r.LastError)
		} else if r.Note != "" {
			fmt.Fprintf(&b, " (%s)", r.Note)
		}
	}
	return b.String()
}
