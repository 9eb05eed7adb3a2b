package reach

import (
	"context"
	"errors"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/web/console"
)

// Source serves reach to the console (web/console.ReachSource).
type Source struct{ e *Engine }

// Source returns the console's view of the engine.
func (e *Engine) Source() console.ReachSource { return Source{e} }

var _ console.ReachSource = Source{}

// Post is one post's reach per channel, with its history and replies.
func (s Source) Post(ctx context.Context, postID string) ([]console.ChannelReach, error) {
	return s.e.Post(ctx, postID)
}

// Period lists the posts delivered in [from, to) with their totals.
func (s Source) Period(ctx context.Context, from, to time.Time) ([]console.PostReach, error) {
	return s.e.Period(ctx, from, to)
}

// Refresh reads the post's counters now.
func (s Source) Refresh(ctx context.Context, postID string) error { return s.e.Refresh(ctx, postID) }

// Post is one post's reach per channel, in channel order, with the history
// of good reads and the kept replies.
func (e *Engine) Post(ctx context.Context, postID string) ([]console.ChannelReach, error) {
	rows, err := e.statuses(ctx, `post_id = $1`, postID)
	if err != nil {
		return nil, err
	}
	out := make([]console.ChannelReach, 0, len(rows))
	for _, st := range rows {
		cr := e.channelReach(st)
		hist, err := e.history(ctx, postID, st.Channel)
		if err != nil {
			return nil, err
		}
		for _, p := range hist {
			cr.History = append(cr.History, console.ReachPoint{At: p.At, Counters: p.Counters, Extra: named(p.Extra)})
		}
		if cr.Replies, err = e.replies(ctx, postID, st.Channel, e.opts.MaxReplies); err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

// channelReach is a status row as the console shows it.
func (e *Engine) channelReach(st status) console.ChannelReach {
	cr := console.ChannelReach{Channel: st.Channel, Type: e.opts.Types[st.Channel], LastRead: st.LastRead, Notes: st.Notes}
	if !st.LastRead.IsZero() {
		// Before the first good read every counter is "not available".
		cr.Latest, cr.Extra = st.Latest, named(st.Extra)
	}
	if st.LastError != "" && !st.LastErrorAt.Before(st.LastRead) {
		cr.LastError = st.LastError
	}
	if st.NextStep < len(e.opts.Schedule) {
		cr.NextRead = st.NextAt
	}
	return cr
}

func named(in []channels.NamedCount) []console.NamedCount {
	if len(in) == 0 {
		return nil
	}
	out := make([]console.NamedCount, len(in))
	for i, n := range in {
		out[i] = console.NamedCount{Name: n.Name, Count: n.Count}
	}
	return out
}

// Period lists the posts first delivered in [from, to), oldest first, with
// their latest totals per channel (no history, no replies). A post deleted
// from the store since is left out.
func (e *Engine) Period(ctx context.Context, from, to time.Time) ([]console.PostReach, error) {
	rows, err := e.statuses(ctx, `delivered_at >= $1 AND delivered_at < $2`, from.UTC(), to.UTC())
	if err != nil {
		return nil, err
	}
	var out []console.PostReach
	at := map[string]int{}
	for _, st := range rows {
		i, seen := at[st.PostID]
		if !seen {
			sp, err := e.opts.Store.Post(ctx, st.PostID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			p := sp.Post
			i = len(out)
			at[st.PostID] = i
			out = append(out, console.PostReach{PostID: p.ID, Title: p.Title, Source: p.Source.Kind, Tags: p.Tags, At: st.DeliveredAt})
		}
		out[i].Channels = append(out[i].Channels, e.channelReach(st))
	}
	return out, nil
}
