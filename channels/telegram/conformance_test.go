package telegram_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/telegram"
	"github.com/crierhq/crier/post"
)

// TestConformance runs the channel conformance suite against the fake Bot
// API, which checks every request against testdata/botapi.json.
func TestConformance(t *testing.T) {
	t.Parallel()
	var fake *fakeAPI // set by Start, before any subtest reads
	channeltest.Run(t, channeltest.Harness{
		Provider: telegram.Provider{},
		Start: func(t *testing.T) *channeltest.Peer {
			fake = newFakeAPI(t)
			return &channeltest.Peer{
				Section: fake.Section(),
				Secrets: []string{fakeToken},
				Creates: func(r *http.Request) bool {
					return strings.HasSuffix(r.URL.Path, "/sendMessage") || strings.HasSuffix(r.URL.Path, "/sendPhoto")
				},
				Count: func(*testing.T) int { return len(fake.Messages()) },
			}
		},
		LostAnswer: "the Bot API has no idempotency key and a bot cannot read the channel's history: after an unknown outcome the engine stops the delivery for an organiser (It went out / Send again), and the sender refuses to send blindly",
		Decode:     channeltest.DecodeJSON[telegram.Messages],
		Messages:   visibleTexts,
		Image:      &channeltest.ImageLimit{Max: 10 << 20},
		Corrections: &channeltest.Corrections{
			Changes: func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/editMessage") },
			Read: func(t *testing.T, id string) (string, bool) {
				m, ok := fake.Message(id)
				return m.Text, ok
			},
			Revisions: func(t *testing.T, id string) int {
				m, _ := fake.Message(id)
				return m.Edits + 1
			},
		},
		Limits: []channeltest.Limit{{
			// An emoji is two UTF-16 units: a channel counting code
			// points would send a text Telegram refuses.
			Name: "message text", Max: 4096, Unit: "😀", Over: channeltest.Shorten,
			Fill: func(p post.Post, filler string) post.Post {
				p.Summary, p.Body = filler, ""
				return p
			},
			Count: channeltest.UTF16,
		}, {
			// Escaped characters count once after entity parsing.
			Name: "message text of escaped characters", Max: 4096, Unit: "<&>", Over: channeltest.Shorten,
			Fill: func(p post.Post, filler string) post.Post {
				p.Summary, p.Body = filler, ""
				return p
			},
			Count: channeltest.UTF16,
		}},
	})
}

// visibleTexts is each message's text after entity parsing, as Telegram
// measures it.
func visibleTexts(b channels.Body) []string {
	m, ok := b.(telegram.Messages)
	if !ok {
		return nil
	}
	spec := botAPI{}
	spec.HTML.Tags = []string{"b", "i", "s", "u", "code", "pre", "blockquote", "tg-spoiler", "a"}
	spec.HTML.Attributes = map[string][]string{"a": {"href"}}
	var out []string
	for _, msg := range m.Messages {
		s := msg.Text
		if msg.Method == "sendPhoto" {
			s = msg.Caption
		}
		v, err := parseHTML(s, spec)
		if err != nil {
			v = "unparsable: " + err.Error()
		}
		out = append(out, v)
	}
	return out
}
