package instagram

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

// ReadReach reads each post's likes and comments (IG Media fields, with
// instagram_basic), its shares (insights, with
// instagram_manage_insights), and its newest comments. What the token may
// not read stays "not available", with a note saying what to grant.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	limit := opts.Limit()
	fields := fmt.Sprintf("id,like_count,comments_count,permalink,comments.limit(%d){text,timestamp}", limit)
	var out []channels.PartReach
	var replies []channels.Reply
	var notes []string
	for _, part := range parts {
		if part.RemoteID == "" || strings.HasPrefix(part.RemoteID, containerPrefix) {
			continue // never published, or published without a known id
		}
		var m struct {
			Likes     *int64 `json:"like_count"`
			Comments  *int64 `json:"comments_count"`
			Permalink string `json:"permalink"`
			Latest    struct {
				Data []struct {
					Text      string `json:"text"`
					Timestamp string `json:"timestamp"`
				} `json:"data"`
			} `json:"comments"`
		}
		err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: part.RemoteID, Params: url.Values{"fields": {fields}}, What: "reading the Instagram post's likes and comments"}, &m)
		switch code := graphapi.CodeOf(err); {
		case code == 10 || (code >= 200 && code < 300):
			notes = append(notes, "Instagram does not let this token read likes or comments: grant instagram_basic and pages_read_engagement (docs/meta.md)")
			out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID})
			continue
		case gone(err):
			notes = append(notes, fmt.Sprintf("post %s is no longer on Instagram", part.RemoteID))
			out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID})
			continue
		case err != nil:
			return channels.Reach{}, err
		}
		c := channels.Counters{Likes: channels.CountPtr(m.Likes), Replies: channels.CountPtr(m.Comments)}
		for _, cm := range m.Latest.Data {
			at, _ := time.Parse("2006-01-02T15:04:05-0700", cm.Timestamp)
			replies = append(replies, channels.Reply{At: at, Excerpt: channels.Excerpt(cm.Text), URL: m.Permalink})
		}
		shares, note, err := s.shares(ctx, part.RemoteID)
		if err != nil {
			return channels.Reach{}, err
		}
		if note != "" {
			notes = append(notes, note)
		}
		c.Reposts = shares
		out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID, Counters: c})
	}
	return channels.NewReach(out, replies, limit, notes...), nil
}

// shares reads a post's shares from its insights; a token without
// instagram_manage_insights leaves them "not available", with a note.
func (s *Sender) shares(ctx context.Context, id string) (channels.Count, string, error) {
	var ins struct {
		Data []struct {
			Name   string `json:"name"`
			Values []struct {
				Value int64 `json:"value"`
			} `json:"values"`
		} `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id + "/insights", Params: url.Values{"metric": {"shares"}}, What: "reading the Instagram post's insights"}, &ins)
	if code := graphapi.CodeOf(err); code == 10 || (code >= 200 && code < 300) {
		return channels.Count{}, "Instagram does not let this token read insights (shares): grant instagram_manage_insights (docs/meta.md)", nil
	}
	if err != nil {
		return channels.Count{}, "", err
	}
	for _, d := range ins.Data {
		if d.Name == "shares" && len(d.Values) > 0 {
			return channels.CountOf(d.Values[0].Value), "", nil
		}
	}
	return channels.Count{}, "", nil
}
