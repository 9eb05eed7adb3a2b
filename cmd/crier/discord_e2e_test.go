package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// TestDaemonDeliversToDiscordOnceDespiteALostResponse runs the daemon against
// the fake Discord API (which checks every request against Discord's OpenAPI
// spec): the first POST of the message is acted on but its response is lost,
// and the daemon must still end with exactly one message, crossposted once.
func TestDaemonDeliversToDiscordOnceDespiteALostResponse(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	fake.Inject(discordfake.Fault{Operation: "create_message", DropResponse: true})

	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "call.md"), []byte(`---
title: ICAT issues a Call to Action
summary: It is welcome, and it will not go far enough.
link: https://camaca.example/news/icat
tags: [child trafficking]
---
The UN needs to support CAMACA on this issue.
`), 0o644)
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1m"}
delivery: {timeout: 10s, max_attempts: 5}
channels:
  mastodon: {enabled: false}
  email: {enabled: false}
  discord:
    mode: send
    token: ${TEST_DISCORD_TOKEN}
    channel_id: %q
    crosspost: true
`, testnet.FreeAddr(t), discordfake.AnnouncementChannelID))

	var msgs []discordfake.Message
	logs := b.runUntil(fake.Client(), 60*time.Second, func() bool {
		msgs = fake.Messages(discordfake.AnnouncementChannelID)
		return len(msgs) > 0 && msgs[0].Crossposted > 0 && b.status().deliveries()["md:call/discord"] == "sent"
	})
	if len(msgs) != 1 {
		t.Fatalf("want exactly one message in the announcement channel, got %d\nlogs:\n%s", len(msgs), logs.String())
	}
	if msgs[0].Crossposted != 1 {
		t.Fatalf("want the message crossposted once, got %d", msgs[0].Crossposted)
	}
	var ops []string
	for _, r := range fake.Requests() {
		ops = append(ops, fmt.Sprintf("%s=%d", r.Operation, r.Status))
	}
	t.Logf("requests: %v", ops)
	if !slices.Contains(ops, "list_messages=200") {
		t.Errorf("after the lost response the retry should look for the message before sending again: %v", ops)
	}
	if st := b.status().deliveries()["md:call/discord"]; st != "sent" {
		t.Fatalf("ledger says %q\nlogs:\n%s", st, logs.String())
	}
}

// TestDaemonDeliversToTwoDiscordInstances: the campaign's announcement
// channel (bot) and a partner server's webhook are two instances of the
// Discord type, each with its own text, mention and delivery.
func TestDaemonDeliversToTwoDiscordInstances(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "call.md"), []byte(`---
title: ICAT issues a Call to Action
link: https://camaca.example/news/icat
channels:
  discord-partners:
    text: Partners, please share our response to ICAT.
---
The UN needs to support CAMACA on this issue.
`), 0o644)
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	b.setenv("TEST_PARTNERS_WEBHOOK", discordfake.WebhookURL(discordfake.WebhookID))
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 10s}
channels:
  mastodon: {enabled: false}
  email: {enabled: false}
  discord:
    mode: send
    token: ${TEST_DISCORD_TOKEN}
    channel_id: %q
    crosspost: true
  discord-partners:
    type: discord
    mode: send
    webhook_url: ${TEST_PARTNERS_WEBHOOK}
    mention: here
`, testnet.FreeAddr(t), discordfake.AnnouncementChannelID))

	want := map[string]string{"md:call/discord": "sent", "md:call/discord-partners": "sent"}
	var got map[string]string
	logs := b.runUntil(fake.Client(), 60*time.Second, func() bool {
		got = b.status().deliveries()
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, want %v\nlogs:\n%s", got, want, logs.String())
	}
	own, partners := fake.Messages(discordfake.AnnouncementChannelID), fake.Messages(discordfake.TextChannelID)
	if len(own) != 1 || len(partners) != 1 {
		t.Fatalf("want one message in each channel, got %d and %d", len(own), len(partners))
	}
	if own[0].Crossposted != 1 || len(own[0].Pinged) != 0 || strings.Contains(string(own[0].Body), "Partners, please share") {
		t.Errorf("the campaign's own message: crossposted %d, pinged %v, body %s", own[0].Crossposted, own[0].Pinged, own[0].Body)
	}
	if partners[0].WebhookID != discordfake.WebhookID || !strings.Contains(string(partners[0].Body), "Partners, please share") || partners[0].Content != "@here" || len(partners[0].Pinged) == 0 {
		t.Errorf("the partners' message: webhook %q, pinged %v, body %s", partners[0].WebhookID, partners[0].Pinged, partners[0].Body)
	}
	if own[0].Nonce == partners[0].Nonce {
		t.Error("two instances share an idempotency nonce")
	}
}
