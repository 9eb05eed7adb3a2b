package facebook_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/facebook"
	"github.com/crierhq/crier/channels/graphapi/graphapitest"
	"github.com/crierhq/crier/post"
)

// section is a facebook section pointing at fake.
func section(fake *graphapitest.Fake) string {
	return fmt.Sprintf("enabled: true\nmode: send\npage_id: %q\npage_token: %q\napi_url: %s\n", graphapitest.PageID, graphapitest.Token, fake.URL)
}

// creates picks the requests that publish a post.
func creates(r *http.Request) bool {
	return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/feed") || strings.HasSuffix(r.URL.Path, "/photos"))
}

// TestConformance runs the channel conformance suite against the fake
// Graph API, which checks every request against Meta's vendored specs.
func TestConformance(t *testing.T) {
	t.Parallel()
	var fake *graphapitest.Fake // set by Start, before any subtest reads
	channeltest.Run(t, channeltest.Harness{
		Provider: facebook.Provider{},
		Start: func(t *testing.T) *channeltest.Peer {
			fake = graphapitest.New(t)
			return &channeltest.Peer{
				Section: section(fake),
				Secrets: []string{graphapitest.Token},
				Creates: creates,
				Count:   func(*testing.T) int { return len(fake.Posts()) },
				Reach: func(t *testing.T, parts []channels.Part) channels.Counters {
					fake.Engage(parts[0].RemoteID, 5, 2, "See you there", "Bringing a flask")
					return channels.Counters{Reactions: channels.CountOf(5), Reposts: channels.CountOf(2), Replies: channels.CountOf(2)}
				},
			}
		},
		Decode:   channeltest.DecodeJSON[facebook.Post],
		Messages: func(b channels.Body) []string { return []string{b.(facebook.Post).Message} },
		Image:    &channeltest.ImageLimit{Max: 4 << 20},
		Corrections: &channeltest.Corrections{
			Changes: func(r *http.Request) bool { return r.Method == http.MethodPost && !creates(r) },
			Read: func(t *testing.T, id string) (string, bool) {
				p, ok := fake.Post(id)
				return p.Message, ok
			},
			Revisions: func(t *testing.T, id string) int {
				p, _ := fake.Post(id)
				return p.Edits + 1
			},
		},
		Limits: []channeltest.Limit{{
			Name: "post text", Max: 63206, Unit: "é", Over: channeltest.Shorten,
			Fill: func(p post.Post, filler string) post.Post {
				p.Title, p.Summary, p.Body, p.Tags = "", "", filler, nil
				return p
			},
			Count: channeltest.Runes,
		}},
	})
}
