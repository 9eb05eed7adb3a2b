package mastodon

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/crierhq/crier/channels"
)

// reachStatus is the part of a status a reach read uses. Counters are
// pointers: a server that leaves one out has not reported it (quotes_count
// exists only on Mastodon 4.5 and later).
type reachStatus struct {
	ID              string    `json:"id"`
	CreatedAt       time.Time `json:"created_at"`
	URL             string    `json:"url"`
	URI             string    `json:"uri"`
	Content         string    `json:"content"`
	SpoilerText     string    `json:"spoiler_text"`
	Visibility      string    `json:"visibility"`
	RepliesCount    *int64    `json:"replies_count"`
	ReblogsCount    *int64    `json:"reblogs_count"`
	FavouritesCount *int64    `json:"favourites_count"`
	QuotesCount     *int64    `json:"quotes_count"`
	Account         struct {
		Acct string `json:"acct"`
	} `json:"account"`
}

// ReadReach reads each part's counters (GET /api/v1/statuses/:id) and the
// public replies to the thread (GET /api/v1/statuses/:id/context of the
// first part, whose descendants are the whole tree), leaving out the
// thread's own parts.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	own := make(map[string]bool, len(parts))
	var out []channels.PartReach
	for _, p := range parts {
		var st reachStatus
		if err := s.get(ctx, "/api/v1/statuses/"+url.PathEscape(p.RemoteID), &st); err != nil {
			return channels.Reach{}, s.classify(fmt.Sprintf("reading the counters of status %d (id %s)", p.Index+1, p.RemoteID), err, nil, false)
		}
		own[p.RemoteID] = true
		out = append(out, channels.PartReach{Index: p.Index, RemoteID: p.RemoteID, Counters: channels.Counters{
			Replies: channels.CountPtr(st.RepliesCount), Reposts: channels.CountPtr(st.ReblogsCount),
			Likes: channels.CountPtr(st.FavouritesCount), Quotes: channels.CountPtr(st.QuotesCount),
		}})
	}
	if len(parts) == 0 {
		return channels.NewReach(nil, nil, opts.Limit()), nil
	}
	var thread struct {
		Descendants []reachStatus `json:"descendants"`
	}
	if err := s.get(ctx, "/api/v1/statuses/"+url.PathEscape(parts[0].RemoteID)+"/context", &thread); err != nil {
		return channels.Reach{}, s.classify("reading the replies to the thread", err, nil, false)
	}
	var replies []channels.Reply
	for _, d := range thread.Descendants {
		if own[d.ID] || (d.Visibility != "public" && d.Visibility != "unlisted") {
			continue // the thread itself, and replies not meant for everyone
		}
		author := "@" + d.Account.Acct
		replies = append(replies, channels.Reply{
			Author: author, At: d.CreatedAt, Warning: channels.Excerpt(d.SpoilerText),
			Excerpt: channels.Excerpt(d.Content), URL: cmp.Or(d.URL, d.URI),
		})
	}
	return channels.NewReach(out, replies, opts.Limit()), nil
}

// get is a GET through the sender's tracked client (429 becomes a
// rateLimitError in the transport).
func (s *Sender) get(ctx context.Context, path string, out any) error {
	ctx, _ = withCall(ctx, "")
	_, err := s.api(ctx, http.MethodGet, path, "", nil, out)
	return err
}
