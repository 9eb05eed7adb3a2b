package threads_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/channels/threads/threadstest"
	"github.com/crierhq/crier/post"
)

// section is a threads section pointing at fake.
func section(fake *threadstest.Fake) string {
	return fmt.Sprintf("enabled: true\nmode: send\nuser_id: %q\ntoken: %q\napi_url: %s\n", threadstest.UserID, threadstest.Token, fake.URL)
}

// publishes picks the requests that publish a post: a lost answer there
// may have posted it (a container alone posts nothing).
func publishes(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/threads_publish")
}

func texts(b channels.Body) []string {
	var out []string
	for _, p := range b.(threads.Chain) {
		out = append(out, p.Text)
	}
	return out
}

// fill puts filler in the post's text alone.
func fill(p post.Post, filler string) post.Post {
	p.Title, p.Summary, p.Body, p.Tags = "", "", filler, nil
	return p
}

// TestConformance runs the channel conformance suite against the fake
// Threads API, which checks every request against the documented facts
// and fetches pictures from the test's own public address.
func TestConformance(t *testing.T) {
	t.Parallel()
	var fake *threadstest.Fake // set by Start, before any subtest reads
	channeltest.Run(t, channeltest.Harness{
		Provider: threads.Provider{},
		Start: func(t *testing.T) *channeltest.Peer {
			fake = threadstest.New(t)
			images := threadstest.NewImages(t)
			return &channeltest.Peer{
				Section: section(fake),
				Secrets: []string{threadstest.Token},
				Creates: publishes,
				Env:     func(t *testing.T, env *channels.Env) { env.Images = images },
				Count:   func(*testing.T) int { return len(fake.Posts()) },
				Reach: func(t *testing.T, parts []channels.Part) channels.Counters {
					fake.Engage(parts[0].RemoteID, 5, 2, 1, "See you there", "Bringing a flask")
					return channels.Counters{Likes: channels.CountOf(5), Reposts: channels.CountOf(2), Quotes: channels.CountOf(1), Replies: channels.CountOf(2)}
				},
			}
		},
		Decode:   channeltest.DecodeJSON[threads.Chain],
		Messages: texts,
		Image:    &channeltest.ImageLimit{Max: threads.MaxImage},
		// Threads cannot edit: a correction is a reply to the chain.
		Corrections: &channeltest.Corrections{
			Style:   channels.CorrectByReply,
			Changes: publishes,
			Read: func(t *testing.T, id string) (string, bool) {
				p, ok := fake.Post(id)
				return p.Text, ok
			},
		},
		Limits: []channeltest.Limit{
			// One character of two bytes: a channel counting bytes would
			// stop at half.
			{Name: "post characters", Max: threads.MaxText, Unit: "é", Over: channeltest.Split, Fill: fill, Count: threadstest.Count},
			// An emoji counts its four UTF-8 bytes.
			{Name: "post emoji", Max: threads.MaxText, Unit: "🎉", Over: channeltest.Split, Fill: fill, Count: threadstest.Count},
		},
	})
}
