package console

// The post page's Reach panel (issue 24): per channel the public counters
// its network gives and the channel's own counts, when they were read and
// will be read next, a chart of how they grew (server-rendered SVG with its
// numbers in a table beside it), the replies, and a Refresh button. The
// numbers come from Options.Reach; a counter a network does not give is
// "not available", never 0.

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/crierhq/crier/channels"
)

// reachView is one channel's Reach panel.
type reachView struct {
	Channel, Type string
	// Counts are what the channel gives, newest read; Missing names the
	// counters its network never gave ("not available" in one line).
	Counts  []countView
	Missing []string
	// LastRead is the last good read, zero when none succeeded yet;
	// LastError the last read's failure, "" when it succeeded.
	LastRead, NextRead time.Time
	LastError          string
	Chart              *chartView
	// Links are the newsletter's clicks per link ("clicks URL" counts).
	Links   []linkClicks
	Replies []replyView
	Notes   []string
}

// linkClicks is one counted link of a newsletter and its clicks.
type linkClicks struct {
	URL   string
	Count channels.Count
}

// perLinkPrefix names a channel-specific count of one link's clicks
// ("clicks https://…"): listed apart, not drawn or added to totals (the
// "clicks" count already adds them up).
const perLinkPrefix = "clicks "

// perLink splits a link's clicks off a count's name.
func perLink(n NamedCount) (string, bool) {
	return strings.CutPrefix(n.Name, perLinkPrefix)
}

type countView struct {
	Name  string
	Count channels.Count
}

// replyView is one reply as the page lists it: the excerpt is shown behind
// its content warning when it has one.
type replyView struct {
	channels.Reply
	// Link is Reply.URL when it is an http(s) address, "" otherwise.
	Link, Network string
}

// counterNames are the names a network uses for channels.Counters' fields,
// in the order counterValues returns them.
func counterNames(typ string) []string {
	if typ == "mastodon" {
		return []string{"replies", "boosts", "favourites", "quotes", "reactions"}
	}
	return []string{"replies", "reposts", "likes", "quotes", "reactions"}
}

func counterValues(c channels.Counters) []channels.Count {
	return []channels.Count{c.Replies, c.Reposts, c.Likes, c.Quotes, c.Reactions}
}

// series is one counter over a channel's reads: the chart's line and the
// table's column.
type series struct {
	Name   string
	Values []channels.Count // one per history point
	Latest channels.Count
	Extra  bool // a channel-specific count (NamedCount)
}

func (s series) known() bool {
	return s.Latest.Known || slices.ContainsFunc(s.Values, func(c channels.Count) bool { return c.Known })
}

// seriesOf lists a channel's counters over its history: first the public
// counters, then its own counts in the order it first named them.
func seriesOf(cr ChannelReach) []series {
	names := counterNames(cr.Type)
	out := make([]series, len(names))
	for i, n := range names {
		out[i] = series{Name: n, Latest: counterValues(cr.Latest)[i]}
	}
	extra := map[string]int{}
	addExtra := func(n NamedCount) int {
		if _, ok := perLink(n); ok {
			return -1
		}
		i, ok := extra[n.Name]
		if !ok {
			i = len(out)
			extra[n.Name] = i
			out = append(out, series{Name: n.Name, Extra: true, Values: make([]channels.Count, 0, len(cr.History))})
		}
		return i
	}
	for _, n := range cr.Extra {
		if i := addExtra(n); i >= 0 {
			out[i].Latest = n.Count
		}
	}
	for p, pt := range cr.History {
		for i, v := range counterValues(pt.Counters) {
			out[i].Values = append(out[i].Values, v)
		}
		for _, n := range pt.Extra {
			i := addExtra(n)
			if i < 0 {
				continue
			}
			for len(out[i].Values) < p {
				out[i].Values = append(out[i].Values, channels.Count{})
			}
			out[i].Values = append(out[i].Values, n.Count)
		}
	}
	for i := range out {
		for len(out[i].Values) < len(cr.History) {
			out[i].Values = append(out[i].Values, channels.Count{})
		}
	}
	return out
}

// reachViews builds the Reach panels of a post; problem is why they could
// not be read ("" when they were).
func (c *Console) reachViews(ctx context.Context, postID string) (views []reachView, problem string) {
	if c.opts.Reach == nil {
		return nil, ""
	}
	chs, err := c.opts.Reach.Post(ctx, postID)
	if err != nil {
		c.opts.Logger.Warn("console: reading reach", "post", postID, "err", err)
		return nil, "What this post reached could not be read just now; the error is in Crier's log. Reload the page to try again."
	}
	for i, cr := range chs {
		views = append(views, c.reachView(cr, i))
	}
	return views, ""
}

func (c *Console) reachView(cr ChannelReach, n int) reachView {
	v := reachView{Channel: cr.Channel, Type: cr.Type, LastRead: cr.LastRead, NextRead: cr.NextRead,
		LastError: cr.LastError, Notes: cr.Notes}
	all := seriesOf(cr)
	var shown []series
	for _, s := range all {
		switch {
		case s.Extra || s.known():
			v.Counts = append(v.Counts, countView{Name: s.Name, Count: s.Latest})
			shown = append(shown, s)
		default:
			v.Missing = append(v.Missing, s.Name)
		}
	}
	v.Chart = c.chartOf(cr.History, shown, n)
	for _, x := range cr.Extra {
		if u, ok := perLink(x); ok {
			v.Links = append(v.Links, linkClicks{URL: u, Count: x.Count})
		}
	}
	replies := slices.Clone(cr.Replies)
	slices.SortStableFunc(replies, func(a, b channels.Reply) int { return b.At.Compare(a.At) })
	for _, r := range replies {
		rv := replyView{Reply: r, Network: networkName(cmp.Or(cr.Type, cr.Channel))}
		if safeURL(r.URL) {
			rv.Link = r.URL
		}
		v.Replies = append(v.Replies, rv)
	}
	return v
}

// networkName is how organisers call a channel type's network.
func networkName(typ string) string {
	switch typ {
	case "mastodon":
		return "Mastodon"
	case "bluesky":
		return "Bluesky"
	case "discord":
		return "Discord"
	}
	if typ == "" {
		return "the network"
	}
	return title(typ)
}

// refreshEvery is how often a post's reach may be refreshed from the
// console: Refresh reads every channel at once, and a button pressed again
// and again must not spend the networks' rate limits deliveries need.
const refreshEvery = time.Minute

// refreshLimit remembers when each post was last refreshed (on this
// replica), for at most refreshEvery.
type refreshLimit struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// wait is how long post id must wait before another refresh; zero means
// now, and records it.
func (l *refreshLimit) wait(id string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, at := range l.last {
		if now.Sub(at) >= refreshEvery {
			delete(l.last, k)
		}
	}
	if at, ok := l.last[id]; ok {
		return refreshEvery - now.Sub(at)
	}
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	l.last[id] = now
	return 0
}

// withReach adds to the posts list's rows that went out what each reached
// in total (all channels' interactions, as What worked adds them), with one
// read of the period since the oldest of them went out. A failed read
// leaves the column empty: the list still shows.
func (c *Console) withReach(ctx context.Context, rows []listRow) {
	if c.opts.Reach == nil {
		return
	}
	var from time.Time
	for _, r := range rows {
		if wentOut(r) && !r.PublishAt.IsZero() && (from.IsZero() || r.PublishAt.Before(from)) {
			from = r.PublishAt
		}
	}
	if from.IsZero() {
		return
	}
	// A delivery goes out at its post's time or later; an hour's margin
	// allows for clocks.
	posts, err := c.opts.Reach.Period(ctx, from.Add(-time.Hour), c.opts.Now().Add(time.Minute))
	if err != nil {
		c.opts.Logger.Warn("console: reading the posts' reach", "err", err)
		return
	}
	totals := map[string]channels.Count{}
	for _, p := range posts {
		var sum channels.Count
		for _, cr := range p.Channels {
			if n := interactions(cr); n.Known {
				sum = channels.CountOf(sum.N + n.N)
			}
		}
		totals[p.PostID] = sum
	}
	for i := range rows {
		if t, ok := totals[rows[i].ID]; ok {
			rows[i].Reach = &t
		}
	}
}

// wentOut reports whether a row's post left on some channel.
func wentOut(r listRow) bool {
	return slices.ContainsFunc(r.Chips, func(ch chip) bool { return ch.State == "sent" && ch.Local == "" })
}

// refreshReach reads the post's counters now instead of on the schedule
// (the Reach panel's Refresh button).
func (c *Console) refreshReach(w http.ResponseWriter, r *http.Request, s Session) {
	id := r.PathValue("id")
	if c.opts.Reach == nil {
		c.notFound(w, r, "reach is not read on this server")
		return
	}
	if _, err := c.opts.Store.Post(r.Context(), id); err != nil {
		c.notFound(w, r, "no post has this id")
		return
	}
	if wait := c.refreshes.wait(id, c.opts.Now()); wait > 0 {
		w.WriteHeader(http.StatusTooManyRequests)
		c.renderPost(w, r, s, id, "The numbers were read less than a minute ago: press Refresh again after "+
			c.opts.Now().Add(wait).In(c.opts.Location).Format("15:04:05")+".")
		return
	}
	if err := c.opts.Reach.Refresh(r.Context(), id); err != nil {
		c.opts.Logger.Warn("console: refreshing reach", "post", id, "err", err)
		w.WriteHeader(http.StatusBadGateway)
		c.renderPost(w, r, s, id, "The counters could not be read now: "+err.Error())
		return
	}
	redirectDone(w, r, id, "refreshed")
}
