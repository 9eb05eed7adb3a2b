package discord_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/post"
)

// TestConformance runs the channel conformance suite against the Discord
// fake (Discord has no local server; the fake checks every request and
// answer against Discord's OpenAPI description), in bot mode.
func TestConformance(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, harness(false))
}

// TestConformanceWebhook runs it in webhook mode, where Discord takes no
// nonce and a lost answer is found again by reading the channel.
func TestConformanceWebhook(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, harness(true))
}

func harness(webhook bool) channeltest.Harness {
	lost := ""
	if webhook {
		lost = "a webhook cannot read the channel, so a retry after an unknown outcome asks a person to look (bot mode checks by itself)"
	}
	return channeltest.Harness{
		LostAnswer: lost,
		Provider:   discord.Provider{},
		Start:      func(t *testing.T) *channeltest.Peer { return startFake(t, webhook) },
		Decode:     channeltest.DecodeJSON[discord.Message],
		// 10 MB per file without boosts; a larger picture is left out.
		Image:    &channeltest.ImageLimit{Max: 10 << 20},
		Messages: func(b channels.Body) []string { return []string{embed(b).Description} },
		Limits: []channeltest.Limit{{
			// An emoji is two UTF-16 units: a channel counting code
			// points would send a title Discord refuses.
			Name: "embed title", Max: 256, Unit: "😀", Over: channeltest.Shorten,
			Fill:     func(p post.Post, filler string) post.Post { p.Title = filler; return p },
			Count:    channeltest.UTF16,
			Messages: func(b channels.Body) []string { return []string{embed(b).Title} },
		}, {
			Name: "embed description", Max: 4096, Unit: "é", Over: channeltest.Shorten,
			Fill: func(p post.Post, filler string) post.Post {
				p.Summary, p.Body = filler, ""
				return p
			},
			Count: channeltest.UTF16,
		}},
	}
}

func embed(b channels.Body) discord.Embed {
	if m, ok := b.(discord.Message); ok && len(m.Embeds) > 0 {
		return m.Embeds[0]
	}
	return discord.Embed{}
}

func startFake(t *testing.T, webhook bool) *channeltest.Peer {
	fake := discordfake.New(t)
	section := "token: " + discordfake.Token + "\nchannel_id: \"" + discordfake.TextChannelID + "\"\n"
	creates := "/channels/" + discordfake.TextChannelID + "/messages"
	if webhook {
		section = "webhook_url: " + discordfake.WebhookURL(discordfake.WebhookID) + "\n"
		creates = "/webhooks/" + discordfake.WebhookID + "/" + discordfake.WebhookToken
	}
	return &channeltest.Peer{
		Section:   section,
		Secrets:   []string{discordfake.Token, discordfake.WebhookToken},
		Transport: fake.Transport(),
		Creates: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, creates)
		},
		Count: func(*testing.T) int { return len(fake.Messages(discordfake.TextChannelID)) },
		// Members react; Discord counts nothing else.
		Reach: func(_ *testing.T, parts []channels.Part) channels.Counters {
			fake.React(parts[0].RemoteID, "🕯️", 3)
			return channels.Counters{Reactions: channels.CountOf(3)}
		},
	}
}
