package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels/email"
)

type statusPost struct {
	ID         string           `json:"id"`
	Title      string           `json:"title"`
	State      string           `json:"state"`
	PublishAt  time.Time        `json:"publish_at"`
	Deliveries []store.Delivery `json:"deliveries"`
}

// statusReport is what `crier status --json` and GET /admin/status show.
type statusReport struct {
	Posts           []statusPost     `json:"posts"`
	NewsletterSends []email.Progress `json:"newsletter_sends"`
}

// loadStatus reads the newest posts with their deliveries, and the
// newsletter sends.
func loadStatus(ctx context.Context, st *store.Store, limit int) (statusReport, error) {
	var rep statusReport
	recent, err := st.RecentPosts(ctx, limit)
	if err != nil {
		return rep, err
	}
	for _, sp := range recent {
		ds, err := st.Deliveries(ctx, sp.Post.ID)
		if err != nil {
			return rep, err
		}
		rep.Posts = append(rep.Posts, statusPost{ID: sp.Post.ID, Title: sp.Post.Title, State: string(sp.State), PublishAt: sp.Post.PublishAt, Deliveries: ds})
	}
	rep.NewsletterSends, err = email.SendProgress(ctx, st.DB())
	return rep, err
}

// statusHandler serves the same report as JSON, for organisers' tools
// (mounted behind the admin token).
func statusHandler(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 20
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 500 {
			limit = n
		}
		rep, err := loadStatus(r.Context(), st, limit)
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
Shows recent posts with each channel's delivery state (pending, sending,
sent, failed, unknown), attempts, the last error, a note when a sent delivery
left something out (an image that could not be fetched) and where it went,
then the progress of newsletter sends.`)
	asJSON := fs.Bool("json", false, "print as JSON")
	limit := fs.Int("limit", 20, "how many recent posts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	rep, err := loadStatus(ctx, st, *limit)
	if err != nil {
		return err
	}
	out, progress := rep.Posts, rep.NewsletterSends
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
	tw := tabwriter.NewWriter(app.Stdout, 0, 2, 2, ' ', 0)
	for _, p := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, p.State, app.showTime(p.PublishAt), p.Title)
		for _, d := range p.Deliveries {
			where := d.RemoteURL
			if d.Outbox && where != "" {
				where = "outbox " + where
			}
			line := fmt.Sprintf("  └ %s\t%s\tattempts %d\t%s", d.Channel, d.State, d.Attempts, where)
			if d.LastError != "" && d.State != store.DeliverySent {
				line += "\terror: " + d.LastError
			}
			if d.Note != "" {
				line += "\tnote: " + d.Note
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
	if len(progress) > 0 {
		fmt.Fprintln(app.Stdout, "\nNewsletter sends:")
		for _, p := range progress {
			b, _ := json.Marshal(p)
			fmt.Fprintf(app.Stdout, "  %s\n", b)
		}
	}
	return nil
}
