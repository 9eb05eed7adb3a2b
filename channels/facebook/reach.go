package facebook

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

// ReadReach reads each post's reactions, comments and shares, and its
// newest comments. What the token may not read (pages_read_engagement
// not granted) stays "not available", with a note saying so.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	limit := opts.Limit()
	fields := fmt.Sprintf("id,shares,reactions.summary(total_count).limit(0),comments.summary(true).order(reverse_chronological).limit(%d){message,created_time,permalink_url}", limit)
	var out []channels.PartReach
	var replies []channels.Reply
	var notes []string
	for _, part := range parts {
		if part.RemoteID == "" {
			continue
		}
		var p struct {
			Shares *struct {
				Count int64 `json:"count"`
			} `json:"shares"`
			Reactions *struct {
				Summary struct {
					Total int64 `json:"total_count"`
				} `json:"summary"`
			} `json:"reactions"`
			Comments *struct {
				Data []struct {
					Message   string `json:"message"`
					Created   string `json:"created_time"`
					Permalink string `json:"permalink_url"`
				} `json:"data"`
				Summary struct {
					Total int64 `json:"total_count"`
				} `json:"summary"`
			} `json:"comments"`
		}
		err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: part.RemoteID, Params: url.Values{"fields": {fields}}, What: "reading the post's reactions"}, &p)
		if code := graphapi.CodeOf(err); code == 10 || (code >= 200 && code < 300) {
			notes = append(notes, "Facebook does not let this token read reactions, comments or shares: grant pages_read_engagement (docs/meta.md)")
			out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID})
			continue
		}
		if gone(err) {
			notes = append(notes, fmt.Sprintf("post %s is no longer on the Page", part.RemoteID))
			out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID})
			continue
		}
		if err != nil {
			return channels.Reach{}, err
		}
		var c channels.Counters
		// Facebook leaves shares out when there are none.
		c.Reposts = channels.CountOf(0)
		if p.Shares != nil {
			c.Reposts = channels.CountOf(p.Shares.Count)
		}
		if p.Reactions != nil {
			c.Reactions = channels.CountOf(p.Reactions.Summary.Total)
		}
		if p.Comments != nil {
			c.Replies = channels.CountOf(p.Comments.Summary.Total)
			for _, cm := range p.Comments.Data {
				at, _ := time.Parse("2006-01-02T15:04:05-0700", cm.Created)
				replies = append(replies, channels.Reply{At: at, Excerpt: channels.Excerpt(cm.Message), URL: cm.Permalink})
			}
		}
		out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID, Counters: c})
	}
	return channels.NewReach(out, replies, limit, notes...), nil
}
