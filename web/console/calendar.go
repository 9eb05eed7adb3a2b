package console

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/crierhq/crier/bot/store"
)

// calEntry is one post on the calendar.
type calEntry struct {
	ID, Title, Source string
	At                time.Time
	Time, Day         string
	Published         bool
	// Local: published, but every delivery was only saved locally.
	Local bool
	// Revision, set on a scheduled console post shown to an editor, is
	// what its "Move to…" form and drag and drop carry.
	Revision string
}

type calDay struct {
	Date    time.Time
	InMonth bool
	Today   bool
	Entries []calEntry
	Digest  string
}

func (c *Console) calendar(w http.ResponseWriter, r *http.Request, s Session) {
	loc := c.opts.Location
	now := c.opts.Now().In(loc)
	view := r.URL.Query().Get("view")
	if view != "week" {
		view = "month"
	}
	anchor := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if v := r.URL.Query().Get("date"); v != "" {
		if t, err := time.ParseInLocation("2006-01-02", v, loc); err == nil {
			anchor = t
		}
	}
	var start, end, prev, next time.Time
	if view == "week" {
		start = anchor.AddDate(0, 0, -((int(anchor.Weekday()) + 6) % 7)) // Monday
		end = start.AddDate(0, 0, 7)
		prev, next = start.AddDate(0, 0, -7), end
	} else {
		first := time.Date(anchor.Year(), anchor.Month(), 1, 0, 0, 0, 0, loc)
		start = first.AddDate(0, 0, -((int(first.Weekday()) + 6) % 7))
		last := first.AddDate(0, 1, 0)
		end = last.AddDate(0, 0, (7-(int(last.Weekday())+6)%7)%7)
		prev, next = first.AddDate(0, -1, 0), last
		anchor = first
	}
	entries, err := c.calendarEntries(r.Context(), start, end)
	if err != nil {
		c.serverError(w, r, "reading the calendar", err)
		return
	}
	if s.User.Role.Can(RoleEditor) {
		if err := c.movable(r.Context(), entries); err != nil {
			c.serverError(w, r, "reading the calendar", err)
			return
		}
	}
	var days []calDay
	byDay := map[string]int{}
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		byDay[d.Format("2006-01-02")] = len(days)
		days = append(days, calDay{Date: d, InMonth: view == "week" || d.Month() == anchor.Month(),
			Today: d.Year() == now.Year() && d.YearDay() == now.YearDay()})
	}
	for _, e := range entries {
		if i, ok := byDay[e.At.In(loc).Format("2006-01-02")]; ok {
			days[i].Entries = append(days[i].Entries, e)
		}
	}
	var digest string
	if t, ok := c.opts.Publisher.NextDigest(now); ok {
		digest = c.showTime(t)
		if i, ok := byDay[t.In(loc).Format("2006-01-02")]; ok {
			days[i].Digest = t.In(loc).Format("15:04")
		}
	}
	var weeks [][]calDay
	for i := 0; i < len(days); i += 7 {
		weeks = append(weeks, days[i:min(i+7, len(days))])
	}
	title := anchor.Format("January 2006")
	if view == "week" {
		title = fmt.Sprintf("Week of %s", start.Format("2 January 2006"))
	}
	c.render(w, r, s, "calendar", map[string]any{"Weeks": weeks, "View": view, "Title": title, "Digest": digest,
		"Prev": prev.Format("2006-01-02"), "Next": next.Format("2006-01-02"), "Zone": loc.String(),
		"Today": now.Format("2006-01-02"), "Notice": c.movedNotice(r), "Weekdays": []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}})
}

// calendarEntries reads the scheduled and published posts of every source
// between start and end.
func (c *Console) calendarEntries(ctx context.Context, start, end time.Time) ([]calEntry, error) {
	posts, err := c.opts.Store.Dated(ctx, start, end, 2000)
	if err != nil {
		return nil, fmt.Errorf("reading the calendar: %w", err)
	}
	out := make([]calEntry, 0, len(posts))
	for _, p := range posts {
		e := calEntry{ID: p.ID, Title: p.Title, Source: p.SourceKind, At: p.PublishAt,
			Published: p.State == store.PostPublished, Local: p.Local}
		e.Time, e.Day = e.At.In(c.opts.Location).Format("15:04"), e.At.In(c.opts.Location).Format("2006-01-02")
		out = append(out, e)
	}
	return out, nil
}

// movable sets the revision of each scheduled console post among entries,
// which makes it movable on the calendar.
func (c *Console) movable(ctx context.Context, entries []calEntry) error {
	for i, e := range entries {
		if e.Published || e.Source != Kind {
			continue
		}
		sp, err := c.opts.Store.Post(ctx, e.ID)
		if err != nil {
			return fmt.Errorf("reading post %s: %w", e.ID, err)
		}
		entries[i].Revision = revision(sp.Post)
	}
	return nil
}
