package main

import (
	"context"
	"fmt"
	"io"
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
	cleanEnv(t)
	fake := discordfake.New(t)
	fake.Inject(discordfake.Fault{Operation: "create_message", DropResponse: true})

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "call.md"), []byte(`---
title: ICAT issues a Call to Action
summary: It is welcome, and it will not go far enough.
link: https://camaca.example/news/icat
tags: [child trafficking]
---
The UN needs to support CAMACA on this issue.
`), 0o644)
	t.Setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
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
`, testnet.FreeAddr(t), discordfake.AnnouncementChannelID)), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	app := &App{Stdout: io.Discard, Stderr: &logs, HTTPClient: fake.Client()}
	done := make(chan int)
	go func() { done <- runApp(ctx, app, []string{"--config", cfg, "run"}) }()

	deadline := time.Now().Add(60 * time.Second) // bounds a broken run only
	var msgs []discordfake.Message
	for time.Now().Before(deadline) {
		msgs = fake.Messages(discordfake.AnnouncementChannelID)
		if len(msgs) > 0 && msgs[0].Crossposted > 0 && deliveredState(t, cfg) == "sent" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("daemon exit %d", code)
	}
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
	if st := deliveredState(t, cfg); st != "sent" {
		t.Fatalf("ledger says %q\nlogs:\n%s", st, logs.String())
	}
}

// deliveredState reads the Discord delivery's state through `crier status --json`.
func deliveredState(t *testing.T, cfg string) string {
	var out syncBuffer
	app := &App{Stdout: &out, Stderr: io.Discard}
	if runApp(context.Background(), app, []string{"--config", cfg, "status", "--json"}) != 0 {
		return ""
	}
	var st struct {
		Posts []struct {
			Deliveries []struct{ Channel, State string }
		}
	}
	if err := jsonUnmarshal(out.String(), &st); err != nil || len(st.Posts) == 0 || len(st.Posts[0].Deliveries) == 0 {
		return ""
	}
	return st.Posts[0].Deliveries[0].State
}

// TestDaemonDeliversToTwoDiscordInstances: the campaign's announcement
// channel (bot) and a partner server's webhook are two instances of the
// Discord type, each with its own text, mention and delivery.
func TestDaemonDeliversToTwoDiscordInstances(t *testing.T) {
	cleanEnv(t)
	fake := discordfake.New(t)
	dir := t.TempDir()
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
	t.Setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	t.Setenv("TEST_PARTNERS_WEBHOOK", discordfake.WebhookURL(discordfake.WebhookID))
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
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
`, testnet.FreeAddr(t), discordfake.AnnouncementChannelID)), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan int)
	go func() {
		done <- runApp(ctx, &App{Stdout: io.Discard, Stderr: &logs, HTTPClient: fake.Client()}, []string{"--config", cfg, "run"})
	}()
	want := map[string]string{"md:call/discord": "sent", "md:call/discord-partners": "sent"}
	var got map[string]string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = deliveryStates(t, cfg); fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("daemon exit %d", code)
	}
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
