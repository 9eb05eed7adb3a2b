package bluesky

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
)

// Bluesky's counters and threads are not in the account's repository: an
// App View indexes the whole network and answers app.bsky.feed.getPosts
// and getPostThread, which the PDS proxies to the App View it is configured
// with. A PDS without one answers that it has no such service, and then
// every counter is "not available" rather than 0.

// maxThreadPosts bounds how many posts of a thread a read walks.
const maxThreadPosts = 1000

type postView struct {
	URI         string `json:"uri"`
	ReplyCount  *int64 `json:"replyCount"`
	RepostCount *int64 `json:"repostCount"`
	LikeCount   *int64 `json:"likeCount"`
	QuoteCount  *int64 `json:"quoteCount"`
	Author      struct {
		DID    string `json:"did"`
		Handle string `json:"handle"`
	} `json:"author"`
	Record struct {
		Text      string    `json:"text"`
		CreatedAt time.Time `json:"createdAt"`
		Labels    struct {
			Values []label `json:"values"`
		} `json:"labels"`
	} `json:"record"`
	Labels []label `json:"labels"`
}

type label struct {
	Val string `json:"val"`
}

type threadNode struct {
	Type    string        `json:"$type"`
	Post    *postView     `json:"post"`
	Replies []*threadNode `json:"replies"`
}

// ReadReach reads each part's likes, reposts, replies and quotes
// (app.bsky.feed.getPosts) and the replies to the thread
// (app.bsky.feed.getPostThread of the first part), through the PDS.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	if len(parts) == 0 {
		return channels.NewReach(nil, nil, opts.Limit()), nil
	}
	var notes []string
	views, err := s.getPosts(ctx, parts)
	if note, ok := unavailable(err); ok {
		notes, err = append(notes, "counters not available: "+note), nil
	}
	if err != nil {
		return channels.Reach{}, classify("reading the posts' counters", err, nil, false)
	}
	out := make([]channels.PartReach, len(parts))
	own := make(map[string]bool, len(parts))
	for i, p := range parts {
		own[p.RemoteID] = true
		out[i] = channels.PartReach{Index: p.Index, RemoteID: p.RemoteID}
		if v, ok := views[p.RemoteID]; ok {
			out[i].Counters = channels.Counters{Replies: channels.CountPtr(v.ReplyCount), Reposts: channels.CountPtr(v.RepostCount),
				Likes: channels.CountPtr(v.LikeCount), Quotes: channels.CountPtr(v.QuoteCount)}
		}
	}
	var thread struct {
		Thread threadNode `json:"thread"`
	}
	q := url.Values{"uri": {parts[0].RemoteID}, "depth": {"20"}, "parentHeight": {"0"}}
	_, _, err = s.cli.call(ctx, request{method: http.MethodGet, nsid: "app.bsky.feed.getPostThread", query: q, auth: true}, &thread)
	if note, ok := unavailable(err); ok {
		notes, err = append(notes, "replies not available: "+note), nil
	}
	if err != nil {
		return channels.Reach{}, classify("reading the replies to the thread", err, nil, false)
	}
	return channels.NewReach(out, replies(&thread.Thread, own), opts.Limit(), notes...), nil
}

// getPosts returns the views of the parts' posts by URI, 25 (the
// lexicon's limit) per call.
func (s *Sender) getPosts(ctx context.Context, parts []channels.Part) (map[string]postView, error) {
	views := make(map[string]postView, len(parts))
	for start := 0; start < len(parts); start += 25 {
		q := url.Values{}
		for _, p := range parts[start:min(start+25, len(parts))] {
			q.Add("uris", p.RemoteID)
		}
		var got struct {
			Posts []postView `json:"posts"`
		}
		if _, _, err := s.cli.call(ctx, request{method: http.MethodGet, nsid: "app.bsky.feed.getPosts", query: q, auth: true}, &got); err != nil {
			return nil, err
		}
		for _, v := range got.Posts {
			views[v.URI] = v
		}
	}
	return views, nil
}

// replies walks the thread breadth first (at most maxThreadPosts posts),
// leaving out the delivery's own parts.
func replies(root *threadNode, own map[string]bool) []channels.Reply {
	var out []channels.Reply
	queue := []*threadNode{root}
	for n := 0; len(queue) > 0 && n < maxThreadPosts; n++ {
		node := queue[0]
		queue = queue[1:]
		queue = append(queue, node.Replies...)
		p := node.Post
		if p == nil || own[p.URI] || node.Type != "" && node.Type != "app.bsky.feed.defs#threadViewPost" {
			continue // the thread itself, or a blocked or deleted post
		}
		out = append(out, channels.Reply{
			Author: "@" + p.Author.Handle, At: p.Record.CreatedAt, Warning: warning(p),
			Excerpt: channels.Excerpt(p.Record.Text), URL: webURL(p.Author.DID, rkeyOf(p.URI)),
		})
	}
	return out
}

// warning names the post's content labels (its own and the moderation
// service's) that Bluesky hides a post behind.
func warning(p *postView) string {
	var found []string
	for _, l := range append(p.Record.Labels.Values, p.Labels...) {
		switch l.Val {
		case "porn", "sexual", "nudity", "graphic-media", "gore", "!warn":
			found = append(found, l.Val)
		}
	}
	return strings.Join(found, ", ")
}

// unavailable reports an answer saying the server has no App View to ask
// (a bare PDS), in words for the organisers.
func unavailable(err error) (string, bool) {
	var xe *xrpcError
	if !errors.As(err, &xe) {
		return "", false
	}
	noService := xe.Status == http.StatusNotImplemented || xe.Name == "MethodNotImplemented" ||
		xe.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(xe.Message), "service")
	if !noService {
		return "", false
	}
	return fmt.Sprintf("the Bluesky server answers them only through an App View, and this one has none (%v)", xe), true
}
