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

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// TestCorrectInTheBrowser is issue 23's console journey against real
// servers: an editor publishes a post to GoToSocial, the Discord fake and a
// Bluesky PDS, corrects it everywhere in Chromium (the toot's edit is read
// back on GoToSocial with its edit history, the Discord message through the
// fake, which checks the PATCH against Discord's spec, Bluesky's correction
// reply on the PDS), then withdraws it and sees it gone from all three. axe-core checks the new pages at 1280 and 390
// px, light and dark, with the keyboard walk.
func TestCorrectInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)
	disc := discordfake.New(t)
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	crier := setup(t, "")
	os.MkdirAll(filepath.Join(crier.dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	crier.setenv("TEST_MASTODON_TOKEN", user.Token)
	crier.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	crier.setenv("TEST_BLUESKY_PASSWORD", acct.AppPassword)
	crier.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, timezone: Europe/London}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
delivery: {timeout: 20s, max_attempts: 3}
console: {require_approval: true}
channels:
  mastodon: {mode: send, instance: %q, token: "${TEST_MASTODON_TOKEN}"}
  discord: {mode: send, token: "${TEST_DISCORD_TOKEN}", channel_id: %q, crosspost: false}
  bluesky: {enabled: true, mode: send, service: %q, handle: %q, app_password: "${TEST_BLUESKY_PASSWORD}"}
  email: {enabled: false}
`, addr, base, gts.URL, discordfake.TextChannelID, pds.URL, acct.Handle))
	crier.addUser("ed.editor@camaca.example", "editor", "editor's long passphrase")
	// GoToSocial and the PDS are on loopback; Discord's API is the fake.
	client := &http.Client{Transport: multiTransport{masto: "http://127.0.0.1:", discord: disc.Transport()}, Timeout: 20 * time.Second}
	logs := crier.startDaemon(base+"/healthz", client)
	b := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")

	// The editor publishes a post with the wrong time.
	b.signIn("ed.editor@camaca.example", "editor's long passphrase")
	b.open("/posts/new")
	b.fill("Title", "Vigil on Friday")
	b.fill("Text", "Join us at 6pm outside the town hall.")
	b.fill("Link", "https://camaca.example/news/vigil")
	b.press("Publish now")
	b.waitText(".state", "Sent")
	postURL := b.pageAddress()
	sentOn := func(channels ...string) func() bool {
		return func() bool {
			for _, ch := range channels {
				if !strings.Contains(b.text("#delivery-"+ch), "sent") {
					return false
				}
			}
			return true
		}
	}
	b.reloadUntil(sentOn("mastodon", "discord", "bluesky"), 90*time.Second, logs.String)
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	toot := onlyToot(t, reader)
	if !strings.Contains(toot.Content, "6pm") {
		t.Fatalf("the toot as published: %s", toot.Content)
	}

	// Corrects it everywhere: the form, the review side by side, confirm.
	b.press("Correct everywhere")
	b.waitText("h1", "Correct everywhere")
	b.fill("Text", "Join us at 7pm outside the town hall.")
	b.fill("What was corrected", "The vigil starts at 7pm, not 6pm.")
	b.axe("correct-form")
	b.press("Review the correction")
	b.waitText("h1", "Review the correction")
	b.waitText(".compare-channel", "7pm")
	b.axe("correct-review")
	if shots != "" {
		b.screenshots(shots, "correct-review")
	}
	// The button names each channel (in the order the post went out on them).
	button := b.text("button[name=confirm]")
	if !strings.HasPrefix(button, "Correct on ") || !strings.Contains(button, "Mastodon") || !strings.Contains(button, "Discord") || !strings.Contains(button, "Bluesky") {
		t.Fatalf("the confirm button says %q", button)
	}
	b.press(button)
	b.waitText(".notice", "Correction queued")
	// The newest correction or withdrawal is the first listed.
	doneOn := func(kind string, channels ...string) func() bool {
		return func() bool {
			got := b.text(".corrections .correction")
			if !strings.HasPrefix(got, kind) {
				return false
			}
			for _, ch := range channels {
				if !strings.Contains(got, ch+": done") {
					return false
				}
			}
			return true
		}
	}
	b.reloadUntil(doneOn("Correction 1", "Mastodon", "Discord", "Bluesky"), 90*time.Second, logs.String)
	b.axe("correct-done")

	// GoToSocial shows the edit, and its history the version before.
	edited := onlyToot(t, reader)
	if edited.ID != toot.ID || !strings.Contains(edited.Content, "7pm") || strings.Contains(edited.Content, "6pm") {
		t.Fatalf("the toot after the correction: %s %s", edited.ID, edited.Content)
	}
	// (GoToSocial lists the versions newest first, Mastodon oldest first.)
	if h := strings.Join(statusHistory(t, gts.URL, user.Token, string(toot.ID)), "\n"); strings.Count(h, "<p>") != 2 || !strings.Contains(h, "6pm") || !strings.Contains(h, "7pm") {
		t.Errorf("the toot's edit history: %q", h)
	}
	msgs := disc.Messages(discordfake.TextChannelID)
	if len(msgs) != 1 || msgs[0].Edits != 1 || !strings.Contains(fmt.Sprint(msgs[0].Embeds), "7pm") {
		t.Fatalf("the Discord message after the correction: %+v", msgs)
	}
	// Bluesky cannot edit: by default a reply says what was corrected.
	var original, reply int
	for _, r := range readPosts(t, pds, acct.DID) {
		switch {
		case r.Reply == nil && strings.Contains(r.Text, "6pm"):
			original++
		case r.Reply != nil && strings.Contains(r.Text, "The vigil starts at 7pm, not 6pm."):
			reply++
		}
	}
	if original != 1 || reply != 1 {
		t.Fatalf("on the PDS after the correction: %d originals, %d correction replies: %+v", original, reply, readPosts(t, pds, acct.DID))
	}

	// Withdraws it everywhere, after confirming with a reason.
	b.navigate(postURL)
	b.press("Withdraw everywhere…")
	b.waitText("h1", "Withdraw everywhere")
	b.fill("Why it is withdrawn", "The vigil was cancelled by the council.")
	b.axe("withdraw-form")
	b.press("Withdraw…")
	b.waitText("h1", "Withdraw “Vigil on Friday” from ")
	button = b.text("main form button.danger")
	if !strings.HasPrefix(button, "Yes, withdraw from ") || !strings.Contains(button, "Mastodon") || !strings.Contains(button, "Discord") || !strings.Contains(button, "Bluesky") {
		t.Fatalf("the withdraw button says %q", button)
	}
	b.axe("withdraw-confirm")
	b.press(button)
	b.waitText(".notice", "Withdrawal queued")
	b.reloadUntil(doneOn("Withdrawal", "Mastodon", "Discord", "Bluesky"), 90*time.Second, logs.String)
	b.axe("withdraw-done")
	if shots != "" {
		b.screenshots(shots, "correct-withdrawn")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := reader.GetStatus(ctx, toot.ID); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("the toot after the withdrawal: %v", err)
	}
	if msgs := disc.Messages(discordfake.TextChannelID); len(msgs) != 0 {
		t.Errorf("the Discord message after the withdrawal: %+v", msgs)
	}
	for _, r := range readPosts(t, pds, acct.DID) {
		if r.Reply == nil {
			t.Errorf("the Bluesky post after the withdrawal: %q", r.Text)
		}
	}
}

// onlyToot is the account's one status, read back from GoToSocial.
func onlyToot(t *testing.T, reader *gomastodon.Client) *gomastodon.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acct, err := reader.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := reader.GetAccountStatuses(ctx, acct.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 {
		t.Fatalf("want exactly one toot, got %d", len(statuses))
	}
	return statuses[0]
}

// statusHistory is a status's versions as GoToSocial keeps them (GET
// /api/v1/statuses/:id/history).
func statusHistory(t *testing.T, server, token, id string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", server+"/api/v1/statuses/"+id+"/history", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var versions []struct {
		Content string `json:"content"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&versions); err != nil {
		t.Fatalf("reading the edit history (%s): %v", resp.Status, err)
	}
	var out []string
	for _, v := range versions {
		out = append(out, v.Content)
	}
	return out
}
