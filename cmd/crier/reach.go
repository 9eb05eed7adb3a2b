package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/reach"
	"github.com/crierhq/crier/web/console"
)

// openReach builds the reach engine over the live channels. insert queues
// a read on the bot's job client once the bot exists (nil: reads run only
// when asked, as in `crier reach --refresh`).
func (app *App) openReach(ctx context.Context, st *store.Store, chans []channels.Channel, reg prometheus.Registerer, insert func() *bot.Bot) (*reach.Engine, error) {
	types := map[string]string{}
	for _, inst := range app.Instances {
		types[inst.Name] = inst.Type
	}
	opts := reach.Options{Store: st, Channels: chans, Types: types, Config: app.Config.Reach, Metrics: reach.NewMetrics(reg), Logger: app.Logger}
	if app.connections != nil {
		opts.Current = app.connections.Current
	}
	if insert != nil {
		opts.Insert = func(ctx context.Context, args reach.ReadArgs, at time.Time) error {
			return insert().Insert(ctx, args, reach.InsertOpts(at))
		}
	}
	return reach.Open(ctx, opts)
}

func cmdReach(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "reach", "[--json] [--refresh] [--days N] [POST]", `
Shows what posts reached on each channel: replies, reposts (boosts),
likes (favourites), quotes and reactions as the networks count them, and the
newsletter's delivered, bounced, complaints, unsubscribes, clicks and archive
page views. A counter a network does not give is "not available", never 0;
a failed read shows when the last good one was. Without POST, every post
delivered in the last --days days with its totals; with POST, that post's
reads over time and its latest replies. --refresh (with POST) reads the
counters now instead of waiting for the reach: schedule.`)
	asJSON := fs.Bool("json", false, "print as JSON")
	refresh := fs.Bool("refresh", false, "read POST's counters now")
	days := fs.Int("days", 30, "without POST: how many days back to list")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usageError{fmt.Sprintf("unexpected argument %q: name at most one post", rest[1])}
	}
	if *refresh && len(rest) == 0 {
		return usageError{"--refresh reads one post now: name it (crier reach --refresh POST)"}
	}
	if *days < 1 {
		return usageError{"--days must be at least 1"}
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	var chans []channels.Channel
	if *refresh {
		if chans, _, err = app.liveChannels(ctx, st, nil); err != nil {
			return err
		}
	}
	e, err := app.openReach(ctx, st, chans, nil, nil)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		now := time.Now()
		posts, err := e.Period(ctx, now.AddDate(0, 0, -*days), now.Add(time.Minute))
		if err != nil {
			return err
		}
		return app.printReachList(posts, *asJSON)
	}
	postID := rest[0]
	if _, err := st.Post(ctx, postID); err != nil {
		return fmt.Errorf("post %q: %w (crier status lists the posts)", postID, err)
	}
	var refreshErr error
	if *refresh {
		refreshErr = e.Refresh(ctx, postID)
	}
	chs, err := e.Post(ctx, postID)
	if err != nil {
		return err
	}
	if err := app.printReachPost(postID, chs, *asJSON); err != nil {
		return err
	}
	if refreshErr != nil {
		return fmt.Errorf("reading now: %w (the last good reads are shown)", refreshErr)
	}
	return nil
}

// reachJSON is one channel's reach as `crier reach --json` prints it: a
// counter a network does not give is null, never 0.
type reachJSON struct {
	Channel   string            `json:"channel"`
	Type      string            `json:"type,omitempty"`
	Counters  map[string]*int64 `json:"counters"`
	Extra     map[string]*int64 `json:"extra,omitempty"`
	LastRead  *time.Time        `json:"last_read,omitempty"`
	LastError string            `json:"last_error,omitempty"`
	NextRead  *time.Time        `json:"next_read,omitempty"`
	History   []reachPointJSON  `json:"history,omitempty"`
	Replies   []channels.Reply  `json:"replies,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
}

type reachPointJSON struct {
	At       time.Time         `json:"at"`
	Counters map[string]*int64 `json:"counters"`
	Extra    map[string]*int64 `json:"extra,omitempty"`
}

func countersJSON(c channels.Counters) map[string]*int64 {
	out := map[string]*int64{}
	for name, n := range map[string]channels.Count{"replies": c.Replies, "reposts": c.Reposts, "likes": c.Likes, "quotes": c.Quotes, "reactions": c.Reactions} {
		out[name] = countJSON(n)
	}
	return out
}

func countJSON(c channels.Count) *int64 {
	if !c.Known {
		return nil
	}
	n := c.N
	return &n
}

func extraJSON(extra []console.NamedCount) map[string]*int64 {
	if len(extra) == 0 {
		return nil
	}
	out := map[string]*int64{}
	for _, e := range extra {
		out[e.Name] = countJSON(e.Count)
	}
	return out
}

func timeJSON(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toReachJSON(cr console.ChannelReach) reachJSON {
	out := reachJSON{Channel: cr.Channel, Type: cr.Type, Counters: countersJSON(cr.Latest), Extra: extraJSON(cr.Extra),
		LastRead: timeJSON(cr.LastRead), LastError: cr.LastError, NextRead: timeJSON(cr.NextRead), Replies: cr.Replies, Notes: cr.Notes}
	for _, p := range cr.History {
		out.History = append(out.History, reachPointJSON{At: p.At, Counters: countersJSON(p.Counters), Extra: extraJSON(p.Extra)})
	}
	return out
}

func (app *App) printReachList(posts []console.PostReach, asJSON bool) error {
	if asJSON {
		type postJSON struct {
			ID       string      `json:"id"`
			Title    string      `json:"title"`
			Source   string      `json:"source"`
			Tags     []string    `json:"tags,omitempty"`
			At       time.Time   `json:"delivered_at"`
			Channels []reachJSON `json:"channels"`
		}
		out := []postJSON{}
		for _, p := range posts {
			pj := postJSON{ID: p.PostID, Title: p.Title, Source: p.Source, Tags: p.Tags, At: p.At}
			for _, cr := range p.Channels {
				pj.Channels = append(pj.Channels, toReachJSON(cr))
			}
			out = append(out, pj)
		}
		return printJSON(app.Stdout, out)
	}
	if len(posts) == 0 {
		fmt.Fprintln(app.Stdout, "No post delivered in that time has been read back yet (the first read comes an hour after a delivery; crier reach --refresh POST reads now).")
		return nil
	}
	for _, p := range posts {
		fmt.Fprintf(app.Stdout, "%s  %s  (%s)\n", p.PostID, p.Title, app.showTime(p.At))
		app.printReachChannels(p.Channels, false)
	}
	return nil
}

func (app *App) printReachPost(postID string, chs []console.ChannelReach, asJSON bool) error {
	if asJSON {
		out := []reachJSON{}
		for _, cr := range chs {
			out = append(out, toReachJSON(cr))
		}
		return printJSON(app.Stdout, map[string]any{"post": postID, "channels": out})
	}
	if len(chs) == 0 {
		fmt.Fprintf(app.Stdout, "%s has not been read back yet: it was not delivered to a channel that can say what it reached, or the first read is still to come.\n", postID)
		return nil
	}
	app.printReachChannels(chs, true)
	return nil
}

// printReachChannels prints each channel's latest counters, its extra
// counts, when it was read and, in full, its history and replies.
func (app *App) printReachChannels(chs []console.ChannelReach, full bool) {
	w := app.Stdout
	for _, cr := range chs {
		c := cr.Latest
		fmt.Fprintf(w, "  %s: replies %s, reposts %s, likes %s, quotes %s, reactions %s\n", cr.Channel, c.Replies, c.Reposts, c.Likes, c.Quotes, c.Reactions)
		for _, e := range cr.Extra {
			fmt.Fprintf(w, "    %s: %s\n", e.Name, e.Count)
		}
		switch {
		case cr.LastRead.IsZero() && cr.LastError == "":
			fmt.Fprintf(w, "    not read yet; first read %s\n", app.showTime(cr.NextRead))
		case cr.LastError != "":
			fmt.Fprintf(w, "    the last read failed (%s); last good read %s\n", cr.LastError, app.showTime(cr.LastRead))
		default:
			fmt.Fprintf(w, "    read %s", app.showTime(cr.LastRead))
			if !cr.NextRead.IsZero() {
				fmt.Fprintf(w, ", next %s", app.showTime(cr.NextRead))
			}
			fmt.Fprintln(w)
		}
		for _, n := range cr.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
		if !full {
			continue
		}
		for _, p := range cr.History {
			fmt.Fprintf(w, "    %s  replies %s, reposts %s, likes %s, quotes %s, reactions %s\n", app.showTime(p.At),
				p.Counters.Replies, p.Counters.Reposts, p.Counters.Likes, p.Counters.Quotes, p.Counters.Reactions)
		}
		for _, r := range cr.Replies {
			text := r.Excerpt
			if r.Warning != "" {
				text = "[CW: " + r.Warning + "]"
			}
			fmt.Fprintf(w, "    reply %s %s: %s\n      %s\n", app.showTime(r.At), r.Author, text, r.URL)
		}
	}
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
