package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// correctionStatus is what crier status --json says of corrections.
type correctionStatus struct {
	Posts []struct {
		ID          string
		Changed     bool `json:"changed_since_published"`
		Correct     string
		Corrections []store.Correction
	}
}

func (b *bundle) corrections(postID string) (changed bool, cs []store.Correction) {
	var st correctionStatus
	if code, out, _ := b.crier("status", "--json"); code == 0 {
		_ = json.Unmarshal([]byte(out), &st)
	}
	for _, p := range st.Posts {
		if p.ID == postID {
			return p.Changed, p.Corrections
		}
	}
	return false, nil
}

// settled reports whether the newest correction of the post is no longer
// queued.
func (b *bundle) settled(postID string, n int) func() bool {
	return func() bool {
		_, cs := b.corrections(postID)
		return len(cs) == n && cs[0].State != store.CorrectionQueued
	}
}

// peersClient reaches the Discord fake for discord.com and everything else
// (GoToSocial, the PDS) directly.
func peersClient(fake *discordfake.Server) *http.Client {
	discord := fake.Transport()
	return &http.Client{Timeout: 30 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Hostname(), "discord.com") || strings.HasSuffix(r.URL.Hostname(), "discordapp.com") {
			return discord.RoundTrip(r)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// TestCorrectAndWithdrawEverywhere publishes a post to GoToSocial, a
// Bluesky PDS and the Discord fake, edits its file, and reads back what
// `crier correct` and `crier withdraw` did there: the toot edited once (its
// edit history), one correction reply on Bluesky, the Discord message
// edited; then everything deleted, the correction reply too.
func TestCorrectAndWithdrawEverywhere(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	fake := discordfake.New(t)
	client := peersClient(fake)

	b := setup(t, "")
	vigil := func(hour string) {
		b.write("posts/vigil.md", `---
title: The vigil starts at `+hour+`
summary: Join us on the town hall steps at `+hour+`.
link: https://camaca.example/news/vigil
---
Bring a candle.
`)
	}
	vigil("seven")
	b.setenv("TEST_MASTODON_TOKEN", user.Token)
	b.setenv("TEST_BLUESKY_PASSWORD", acct.AppPassword)
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  email: {enabled: false}
  mastodon: {mode: send, instance: %q, token: "${TEST_MASTODON_TOKEN}"}
  bluesky: {enabled: true, mode: send, service: %q, handle: %q, app_password: "${TEST_BLUESKY_PASSWORD}"}
  discord: {mode: send, token: "${TEST_DISCORD_TOKEN}", channel_id: %q}
`, testnet.FreeAddr(t), gts.URL, pds.URL, acct.Handle, discordfake.AnnouncementChannelID))

	run := func(what string, until func() bool) {
		t.Helper()
		logs := b.runUntil(client, 2*time.Minute, until)
		if !until() {
			t.Fatalf("%s: status %v\nlogs:\n%s", what, b.status().deliveries(), logs.String())
		}
	}
	run("published", func() bool { return b.status().sent() == 3 })
	if changed, _ := b.corrections("md:vigil"); changed {
		t.Fatal("an unchanged post is marked changed since published")
	}

	vigil("eight")
	if changed, _ := b.corrections("md:vigil"); !changed {
		t.Fatal("the edited file is not marked changed since published")
	}
	code, out, errOut := b.crierInput("n\n", "correct", "md:vigil", "--note", "eight, not seven")
	if code == 0 || !strings.Contains(out, "bluesky (corrected there), discord (corrected there), mastodon (corrected there)?") {
		t.Fatalf("answering no: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := b.crier("correct", "md:vigil", "--channel", "matrix", "--yes"); code != 2 || !strings.Contains(errOut, `not sent to a channel named "matrix"`) {
		t.Fatalf("an unknown channel: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := b.crier("correct", "md:vigil", "--note", "eight, not seven", "--yes"); code != 0 {
		t.Fatalf("crier correct: exit %d\n%s%s", code, out, errOut)
	}
	run("corrected", b.settled("md:vigil", 1))
	_, cs := b.corrections("md:vigil")
	if cs[0].State != store.CorrectionDone {
		t.Fatalf("correction: %+v", cs[0])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	tootID := gomastodon.ID(partOf(t, cs[0], "mastodon").RemoteID)
	toot, err := reader.GetStatus(ctx, tootID)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := reader.GetStatusHistory(ctx, tootID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(toot.Content, "eight") || len(hist) != 2 {
		t.Errorf("the toot reads %q with %d revisions, want the correction and one edit", toot.Content, len(hist))
	}
	records := readPosts(t, pds, acct.DID)
	replies := 0
	for _, r := range records {
		if r.Reply != nil {
			replies++
			if r.Text != "Correction: eight, not seven" {
				t.Errorf("the correction reply reads %q", r.Text)
			}
		}
	}
	if len(records) != 2 || replies != 1 {
		t.Errorf("%d records on the PDS with %d replies, want the post and one correction reply", len(records), replies)
	}
	msgs := fake.Messages(discordfake.AnnouncementChannelID)
	if len(msgs) != 1 || msgs[0].Edits != 1 || !strings.Contains(string(mustJSON(t, msgs[0].Embeds))+msgs[0].Content, "eight") {
		t.Errorf("discord: %+v", msgs)
	}
	if changed, _ := b.corrections("md:vigil"); changed {
		t.Error("still marked changed since published after the correction")
	}

	if code, out, errOut := b.crier("withdraw", "md:vigil", "--reason", "the vigil is cancelled", "--yes"); code != 0 {
		t.Fatalf("crier withdraw: exit %d\n%s%s", code, out, errOut)
	}
	run("withdrawn", b.settled("md:vigil", 2))
	if _, cs = b.corrections("md:vigil"); cs[0].Kind != store.KindWithdrawal || cs[0].State != store.CorrectionDone {
		t.Fatalf("withdrawal: %+v", cs[0])
	}
	testnet.WaitFor(t, "the toot to be gone", 30*time.Second, func() bool {
		_, err := reader.GetStatus(ctx, tootID)
		return err != nil
	})
	if records := readPosts(t, pds, acct.DID); len(records) != 0 {
		t.Errorf("%d records left on the PDS after the withdrawal (the correction reply goes too)", len(records))
	}
	if msgs := fake.Messages(discordfake.AnnouncementChannelID); len(msgs) != 0 {
		t.Errorf("%d Discord messages left", len(msgs))
	}
}

func partOf(t *testing.T, c store.Correction, channel string) channels.PartResult {
	t.Helper()
	for _, r := range c.Results {
		if r.Channel == channel && len(r.Parts) > 0 {
			return r.Parts[0]
		}
	}
	t.Fatalf("no parts for %s in %+v", channel, c.Results)
	return channels.PartResult{}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCorrectionsInOutboxMode: with no account connected, a correction and
// a withdrawal are written to the outbox as the requests the channel would
// make, the corrected payload exactly as it would be sent.
func TestCorrectionsInOutboxMode(t *testing.T) {
	t.Parallel()
	for _, d := range pgpeer.Drivers {
		t.Run(d.Name, func(t *testing.T) { t.Parallel(); testCorrectionsInOutboxMode(t, d.Name) })
	}
}

func testCorrectionsInOutboxMode(t *testing.T, driver string) {
	b := setup(t, "")
	b.write("posts/vigil.md", "---\ntitle: The vigil starts at seven\n---\nBring a candle.\n")
	db := ""
	if driver == "postgres" {
		db = fmt.Sprintf("store: {driver: postgres, dsn: %q}\n", pgpeer.DSN(t))
	}
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
%schannels:
  email: {enabled: false}
  discord: {enabled: false}
  mastodon: {instance: https://social.example}
`, testnet.FreeAddr(t), db))
	rendered := func() bool { return b.status().deliveries()["md:vigil/mastodon"] == "rendered" }
	b.runUntil(nil, time.Minute, rendered)
	if !rendered() {
		t.Fatalf("not rendered: %v", b.status().deliveries())
	}
	b.write("posts/vigil.md", "---\ntitle: The vigil starts at eight\n---\nBring a candle.\n")
	if code, out, errOut := b.crier("correct", "md:vigil", "--note", "eight, not seven", "--yes"); code != 0 || !strings.Contains(out, "queued for mastodon") {
		t.Fatalf("crier correct: exit %d\n%s%s", code, out, errOut)
	}
	b.runUntil(nil, time.Minute, b.settled("md:vigil", 1))
	box := filepath.Join(b.dir, "data", "outbox", "mastodon", outbox.FileBase("md:vigil"))
	var req outbox.Request
	data, err := os.ReadFile(box + ".correction-r1.json")
	if err != nil {
		t.Fatalf("no correction request in the outbox: %v", err)
	}
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatal(err)
	}
	if req.Operation != "correct" || req.Note != "eight, not seven" || !strings.Contains(string(req.Payload), "The vigil starts at eight") {
		t.Errorf("correction request:\n%s", data)
	}
	if code, out, errOut := b.crier("withdraw", "md:vigil", "--yes"); code != 0 {
		t.Fatalf("crier withdraw: exit %d\n%s%s", code, out, errOut)
	}
	b.runUntil(nil, time.Minute, b.settled("md:vigil", 2))
	if data, err := os.ReadFile(box + ".withdrawal.json"); err != nil || !strings.Contains(string(data), `"operation": "withdraw"`) {
		t.Errorf("withdrawal request: %s (%v)", data, err)
	}
}
