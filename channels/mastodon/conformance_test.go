package mastodon_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	"github.com/crierhq/crier/internal/testpeers/mastodonfake"
	"github.com/crierhq/crier/post"
)

// TestConformance runs the channel conformance suite against the Mastodon
// fake (Mastodon's own counting: grapheme clusters, every URL 23), once
// shortening long posts and once threading them.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, thread := range []bool{false, true} {
		t.Run(fmt.Sprintf("thread=%v", thread), func(t *testing.T) {
			t.Parallel()
			h := harness(thread, mastodonLimit(thread))
			h.NoCorrections = "the fake does not edit or delete statuses; TestConformanceGoToSocial checks corrections on a real server"
			h.Start = func(t *testing.T) *channeltest.Peer {
				srv := mastodonfake.New(t, mastodonfake.Options{})
				return peer(srv.URL, srv.Token(), thread, func(*testing.T) int { return len(srv.Statuses()) })
			}
			channeltest.Run(t, h)
		})
	}
}

// TestConformanceGoToSocial runs it against a real GoToSocial, which counts
// code points with URLs in full and ignores Idempotency-Key: a lost answer
// is found again on the account's timeline.
func TestConformanceGoToSocial(t *testing.T) {
	t.Parallel()
	var gtsReader *gomastodon.Client // set by Start, before any subtest reads
	h := harness(true, channeltest.Limit{
		Name: "status characters", Max: 500, Unit: "ü", Over: channeltest.Split,
		Fill: fillBody, Count: channeltest.Runes,
	})
	h.Start = func(t *testing.T) *channeltest.Peer {
		gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
		user := gts.NewUser(t)
		reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
		gtsReader = reader
		pr := peer(gts.URL, user.Token, true, func(t *testing.T) int { return countStatuses(t, reader) })
		// A second account favourites and boosts the first toot.
		pr.Reach = func(t *testing.T, parts []channels.Part) channels.Counters {
			fan := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: gts.NewUser(t).Token})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := fan.Favourite(ctx, gomastodon.ID(parts[0].RemoteID)); err != nil {
				t.Fatal(err)
			}
			if _, err := fan.Reblog(ctx, gomastodon.ID(parts[0].RemoteID)); err != nil {
				t.Fatal(err)
			}
			// Each later part of a thread answers the one before; GoToSocial
			// reports no quotes.
			return channels.Counters{Likes: channels.CountOf(1), Reposts: channels.CountOf(1), Replies: channels.CountOf(int64(len(parts) - 1))}
		}
		return pr
	}
	h.Corrections = &channeltest.Corrections{
		Changes: func(r *http.Request) bool { return r.Method == http.MethodPut },
		Read: func(t *testing.T, id string) (string, bool) {
			st, err := gtsReader.GetStatus(context.Background(), gomastodon.ID(id))
			if err != nil {
				return "", false
			}
			return st.Content, true
		},
		// GoToSocial keeps every revision: the first post and each edit.
		Revisions: func(t *testing.T, id string) int {
			hist, err := gtsReader.GetStatusHistory(context.Background(), gomastodon.ID(id))
			if err != nil {
				t.Fatalf("reading the edit history of %s: %v", id, err)
			}
			return len(hist)
		},
	}
	channeltest.Run(t, h)
}

func harness(thread bool, limit channeltest.Limit) channeltest.Harness {
	return channeltest.Harness{
		Provider: mastodon.Provider{},
		Decode:   channeltest.DecodeJSON[mastodon.Statuses],
		Messages: func(b channels.Body) []string {
			var out []string
			for _, st := range b.(mastodon.Statuses) {
				out = append(out, st.SpoilerText+st.Status)
			}
			return out
		},
		Limits: []channeltest.Limit{limit},
		// Mastodon's 16 MB for a picture; a larger one is left out.
		Image: &channeltest.ImageLimit{Max: 16 << 20},
	}
}

// mastodonLimit is Mastodon's 500: a grapheme of two code points counts
// one, so a channel counting code points would stop at half.
func mastodonLimit(thread bool) channeltest.Limit {
	over := channeltest.Shorten
	if thread {
		over = channeltest.Split
	}
	return channeltest.Limit{
		Name: "status characters", Max: 500, Unit: "👍🏽", Over: over,
		Fill: fillBody,
		Count: func(s string) int {
			return channeltest.Graphemes(urls.ReplaceAllString(s, strings.Repeat("x", 23)))
		},
	}
}

var urls = regexp.MustCompile(`https?://\S+`)

func fillBody(p post.Post, filler string) post.Post {
	p.Summary, p.Body = "", filler
	return p
}

func peer(url, token string, thread bool, count func(*testing.T) int) *channeltest.Peer {
	return &channeltest.Peer{
		Section: fmt.Sprintf("instance: %s\ntoken: %s\nthread: %v\n", url, token, thread),
		Secrets: []string{token},
		Creates: func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Path == "/api/v1/statuses"
		},
		Count: count,
	}
}

// countStatuses counts the account's statuses from its timeline, page by
// page (GoToSocial's statuses_count lags behind).
func countStatuses(t *testing.T, reader *gomastodon.Client) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	acct, err := reader.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	pg := &gomastodon.Pagination{Limit: 40}
	for {
		list, err := reader.GetAccountStatuses(ctx, acct.ID, pg)
		if err != nil {
			t.Fatal(err)
		}
		n += len(list)
		if len(list) == 0 || pg.MaxID == "" {
			return n
		}
		pg = &gomastodon.Pagination{Limit: 40, MaxID: pg.MaxID}
	}
}
