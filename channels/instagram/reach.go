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
	// The accounts reached and saves of the post (a delivery to
	// Instagram is one post).
	var reached, saves channels.Count
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
		ins, note, err := s.insights(ctx, part.RemoteID)
		if err != nil {
			return channels.Reach{}, err
		}
		if note != "" {
			notes = append(notes, note)
		}
		c.Reposts = ins["shares"]
		reached, saves = ins["reach"], ins["saved"]
		out = append(out, channels.PartReach{Index: part.Index, RemoteID: part.RemoteID, Counters: c})
	}
	r := channels.NewReach(out, replies, limit, notes...)
	if len(out) > 0 {
		r.Extra = []channels.NamedCount{{Name: "accounts reached", Count: reached}, {Name: "saves", Count: saves}}
	}
	return r, nil
}

// insightMetrics are what v21.0 gives a feed photo that Crier shows:
// shares (Reposts), the accounts it reached and its saves.
const insightMetrics = "shares,reach,saved"

// insights reads a post's insights by metric; a token without
// instagram_manage_insights leaves them "not available", with a note.
func (s *Sender) insights(ctx context.Context, id string) (map[string]channels.Count, string, error) {
	var ins struct {
		Data []struct {
			Name   string `json:"name"`
			Values []struct {
				Value int64 `json:"value"`
			} `json:"values"`
		} `json:"data"`
	}
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: id + "/insights", Params: url.Values{"metric": {insightMetrics}}, What: "reading the Instagram post's insights"}, &ins)
	if code := graphapi.CodeOf(err); code == 10 || (code >= 200 && code < 300) {
		return nil, "Instagram does not let this token read insights (shares, accounts reached, saves): grant instagram_manage_insights (docs/meta.md)", nil
	}
	if err != nil {
		return nil, "", err
	}
	out := map[string]channels.Count{}
	for _, d := range ins.Data {
		if len(d.Values) > 0 {
			out[d.Name] = channels.CountOf(d.Values[0].Value)
		}
	}
	return out, "", nil
}
