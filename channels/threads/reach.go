package threads

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

// metrics are the media insights Crier reads
// (developers.facebook.com/docs/threads/insights, "Media insights").
const metrics = "views,likes,replies,reposts,quotes,shares"

// ReadReach reads each post's insights (threads_manage_insights) and the
// newest replies (threads_read_replies). Threads counts a first post's
// replies over the whole conversation, the chain's own replies included:
// Crier takes those away and shows the conversation's replies on the first
// post. Views and shares are Threads' own counts (Extra). What the token
// may not read stays "not available", with a note saying so.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	limit := opts.Limit()
	own := map[string]bool{}
	for _, p := range parts {
		own[p.RemoteID] = true
	}
	var out []channels.PartReach
	var replies []channels.Reply
	var notes []string
	views, shares := channels.CountOf(0), channels.CountOf(0)
	for i, part := range parts {
		if part.RemoteID == "" {
			continue
		}
		got, err := s.insights(ctx, part.RemoteID)
		if note, ok := unreadable(err, part.RemoteID, "threads_manage_insights", "views, likes, replies, reposts and quotes"); ok {
			notes = append(notes, note)
			views, shares = channels.Count{}, channels.Count{}
			out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID})
			continue
		}
		if err != nil {
			return channels.Reach{}, err
		}
		c := channels.Counters{Likes: got.count("likes"), Reposts: got.count("reposts"), Quotes: got.count("quotes"), Replies: channels.CountOf(0)}
		if i == 0 {
			c.Replies = channels.CountOf(max(0, got["replies"]-int64(len(parts)-1)))
		}
		views, shares = plus(views, got.count("views")), plus(shares, got.count("shares"))
		out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID, Counters: c})
		rs, err := s.replies(ctx, part.RemoteID, own)
		if note, ok := unreadable(err, part.RemoteID, "threads_read_replies", "replies"); ok {
			notes = append(notes, note)
		} else if err != nil {
			return channels.Reach{}, err
		}
		replies = append(replies, rs...)
	}
	if len(parts) > 1 {
		notes = append(notes, "Threads counts the replies to the whole chain on its first post")
	}
	r := channels.NewReach(out, replies, limit, notes...)
	r.Extra = []channels.NamedCount{{Name: "views", Count: views}, {Name: "shares", Count: shares}}
	return r, nil
}

// values are a post's insights by metric name.
type values map[string]int64

func (v values) count(name string) channels.Count {
	n, ok := v[name]
	if !ok {
		return channels.Count{}
	}
	return channels.CountOf(n)
}

func plus(a, b channels.Count) channels.Count {
	if !a.Known || !b.Known {
		return channels.Count{}
	}
	return channels.CountOf(a.N + b.N)
}

// insights reads GET /{media-id}/insights.
func (s *Sender) insights(ctx context.Context, id string) (values, error) {
	var ans struct {
		Data []struct {
			Name   string `json:"name"`
			Values []struct {
				Value int64 `json:"value"`
			} `json:"values"`
			Total *struct {
				Value int64 `json:"value"`
			} `json:"total_value"`
		} `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id + "/insights", Params: url.Values{"metric": {metrics}}, What: "reading the post's insights"}, &ans)
	if err != nil {
		return nil, err
	}
	out := values{}
	for _, m := range ans.Data {
		switch {
		case m.Total != nil:
			out[m.Name] = m.Total.Value
		case len(m.Values) > 0:
			out[m.Name] = m.Values[len(m.Values)-1].Value
		}
	}
	return out, nil
}

// replies reads the replies to one post, leaving out the chain's own
// (NewReach keeps the newest).
func (s *Sender) replies(ctx context.Context, id string, own map[string]bool) ([]channels.Reply, error) {
	var ans struct {
		Data []struct {
			ID        string `json:"id"`
			Text      string `json:"text"`
			Username  string `json:"username"`
			Timestamp string `json:"timestamp"`
			Permalink string `json:"permalink"`
		} `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id + "/replies", Params: url.Values{"fields": {"id,text,username,timestamp,permalink"}},
		What: "reading the post's replies"}, &ans)
	if err != nil {
		return nil, err
	}
	var out []channels.Reply
	for _, r := range ans.Data {
		if own[r.ID] {
			continue
		}
		at, _ := time.Parse("2006-01-02T15:04:05-0700", r.Timestamp)
		out = append(out, channels.Reply{Author: r.Username, At: at, Excerpt: channels.Excerpt(r.Text), URL: r.Permalink})
	}
	return out, nil
}

// unreadable turns a refusal to read into a note: a permission not
// granted, or a post deleted.
func unreadable(err error, id, permission, what string) (string, bool) {
	code := graphapi.CodeOf(err)
	switch {
	case err == nil:
		return "", false
	case gone(err):
		return fmt.Sprintf("post %s is no longer on Threads", id), true
	case code == 10 || (code >= 200 && code < 300):
		return fmt.Sprintf("Threads does not let this token read %s: grant %s (docs/meta.md)", what, permission), true
	}
	return "", false
}
