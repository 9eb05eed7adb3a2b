package discord_test

import (
	"encoding/json"
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
	var fake *discordfake.Server // set by Start, before any subtest reads
	message := func(id string) (discordfake.Message, bool) {
		for _, m := range fake.Messages(discordfake.TextChannelID) {
			if m.ID == id {
				return m, true
			}
		}
		return discordfake.Message{}, false
	}
	return channeltest.Harness{
		LostAnswer: lost,
		Provider:   discord.Provider{},
		Start: func(t *testing.T) *channeltest.Peer {
			fake = discordfake.New(t)
			return startFake(fake, webhook)
		},
		Corrections: &channeltest.Corrections{
			Changes: func(r *http.Request) bool { return r.Method == http.MethodPatch },
			Read: func(t *testing.T, id string) (string, bool) {
				m, ok := message(id)
				if !ok {
					return "", false
				}
				return m.Content + "\n" + embed(discord.Message{Embeds: embedsOf(t, m)}).Description, true
			},
			// Discord shows only that a message was edited; the fake
			// counts the edits.
			Revisions: func(t *testing.T, id string) int {
				m, _ := message(id)
				return m.Edits + 1
			},
		},
		Decode: channeltest.DecodeJSON[discord.Message],
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

// embedsOf reads the embeds the fake stores back into the channel's type.
func embedsOf(t *testing.T, m discordfake.Message) []discord.Embed {
	js, err := json.Marshal(m.Embeds)
	if err != nil {
		t.Fatal(err)
	}
	var out []discord.Embed
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func startFake(fake *discordfake.Server, webhook bool) *channeltest.Peer {
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
