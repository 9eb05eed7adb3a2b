package instagram_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
	"github.com/crierhq/crier/channels/instagram"
	"github.com/crierhq/crier/post"
)

// section is an instagram section pointing at fake.
func section(fake *graphapitest.Fake) string {
	return fmt.Sprintf("enabled: true\nmode: send\nuser_id: %q\npage_token: %q\napi_url: %s\n", graphapitest.IGUserID, graphapitest.Token, fake.URL)
}

// publishes picks the request that publishes a post.
func publishes(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/media_publish")
}

// TestConformance runs the channel conformance suite against the fake
// Graph API, which checks every request against Meta's vendored specs and
// fetches every picture from the test's image server.
func TestConformance(t *testing.T) {
	t.Parallel()
	var fake *graphapitest.Fake // set by Start, before any subtest reads
	var images *graphapitest.Images
	channeltest.Run(t, channeltest.Harness{
		Provider: provider(),
		Start: func(t *testing.T) *channeltest.Peer {
			fake, images = graphapitest.New(t), graphapitest.NewImages(t)
			fake.AllowHTTPImages()
			fake.SetContainerPolls(1)
			return &channeltest.Peer{
				Section: section(fake),
				Secrets: []string{graphapitest.Token},
				Creates: publishes,
				Env:     func(t *testing.T, env *channels.Env) { env.Images = images },
				Count:   func(*testing.T) int { return fake.Messages() },
				Reach: func(t *testing.T, parts []channels.Part) channels.Counters {
					fake.EngageMedia(parts[0].RemoteID, 5, 2, "See you there", "Bringing a flask")
					return channels.Counters{Likes: channels.CountOf(5), Reposts: channels.CountOf(2), Replies: channels.CountOf(2)}
				},
			}
		},
		Decode:   channeltest.DecodeJSON[instagram.Post],
		Messages: func(b channels.Body) []string { return []string{b.(instagram.Post).Caption} },
		Image:    &channeltest.ImageLimit{Max: 8 << 20},
		Corrections: &channeltest.Corrections{
			Style: channels.CorrectByReply,
			Changes: func(r *http.Request) bool {
				return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/comments")
			},
			Read: func(t *testing.T, id string) (string, bool) { return fake.Text(id) },
		},
		Limits: []channeltest.Limit{{
			Name: "caption", Max: 2200, Unit: "é", Over: channeltest.Shorten,
			Fill: func(p post.Post, filler string) post.Post {
				p.Title, p.Summary, p.Body, p.Tags = "", "", filler, nil
				return p
			},
			Count: channeltest.Runes,
		}},
	})
}
