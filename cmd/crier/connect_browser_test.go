package main

import (
	"context"
	"fmt"
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
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestConnectEveryChannelInTheBrowser is issue 22's "done": `crier run`
// with no credentials at all; in Chromium the owner connects, on the
// Channels page, Mastodon through GoToSocial's real OAuth (signing in and
// authorising on GoToSocial's own pages), Bluesky on a real PDS with an app
// password, Discord (the spec fake) with a bot token and channel, and the
// mail server (Mailpit), whose "Send a test mail" arrives; then publishes a
// post from the console, and it arrives on all four, without a restart.
// The console is at localhost and GoToSocial at 127.0.0.1, so the way back
// from GoToSocial is from another site, as it is in real life.
func TestConnectEveryChannelInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	gts := gotosocial.StartT(t, gotosocial.Options{Dir: t.TempDir()})
	user := gts.NewUser(t)
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	disc := discordfake.New(t)
	mp := mailpit.Start(t, mailpit.Options{})
	ctx := context.Background()

	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + strings.Replace(addr, "127.0.0.1", "localhost", 1)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, timezone: Europe/London}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
delivery: {timeout: 30s, max_attempts: 3}
console: {require_approval: true}
channels:
  mastodon: {enabled: true}
  bluesky: {enabled: true}
  discord: {enabled: true}
  email:
    list_id: news.camaca.example
    link_secret: ${TEST_LINK_SECRET}
`, addr, base))
	b.write("list.csv", "email,name\nada@supporters.example,Ada\n")
	if code, out, errs := b.crier("subscribers", "import", "--consented", filepath.Join(b.dir, "list.csv")); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	const owner, password = "owner@camaca.example", "owner's long passphrase"
	b.addUser(owner, "owner", password)
	// Discord's API is the fake; every other address is the real peer's.
	client := discordAnd(disc)
	logs := b.startDaemon("http://"+addr+"/healthz", client)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})

	br := newConsoleBrowser(t, base)
	br.signIn(owner, password)
	br.waitText(".banner", "Nothing is being sent")
	br.press("Channels")
	for _, ch := range []string{"mastodon", "bluesky", "discord", "email"} {
		br.waitText("#channel-"+ch, "Not connected")
	}

	// Mastodon: the owner names the server, signs in on GoToSocial's page
	// and authorises Crier there.
	br.fill("Server", gts.URL)
	br.press("Continue to the server to connect mastodon")
	testnet.WaitFor(t, "GoToSocial's sign-in page", 30*time.Second, func() bool {
		return strings.HasPrefix(br.location(), gts.URL) && br.eval(`String(!!document.querySelector('input[name=password]'))`) == "true"
	})
	br.eval(fmt.Sprintf(`(() => { document.querySelector('input[name=username]').value = %q;
		document.querySelector('input[name=password]').value = %q; return ''; })()`, user.Email, user.Password))
	br.eval(`(() => { document.querySelector('input[name=password]').form.submit(); return ''; })()`)
	testnet.WaitFor(t, "GoToSocial's authorise page", 30*time.Second, func() bool {
		return br.eval(`String(!!document.querySelector('form[action*="authorize"] button, form[action*="authorize"] input[type=submit]'))`) == "true"
	})
	br.eval(`(() => { const f = document.querySelector('form[action*="authorize"]'); (f.querySelector('button, input[type=submit]')).click(); return ''; })()`)
	mastodonAs := "@" + user.Username + "@" + strings.TrimPrefix(gts.URL, "http://")
	testnet.WaitFor(t, "back on the Channels page, connected", 60*time.Second, func() bool {
		return strings.Contains(br.text(".notice"), "Connected mastodon as "+mastodonAs)
	})

	// Bluesky: the handle and an app password, checked with the PDS.
	br.waitVisible("#ch-bluesky-handle")
	br.fill("Handle", acct.Handle)
	br.fill("App password", acct.AppPassword)
	fillIfShown(br, "bluesky", "service", pds.URL)
	br.press("Check and connect bluesky")
	br.waitText(".notice", "Connected bluesky as @"+acct.Handle)

	// Discord: a bot token and the channel, checked with the fake.
	br.fill("Bot token", discordfake.Token)
	br.fill("Channel ID", discordfake.TextChannelID)
	br.press("Check and connect discord")
	br.waitText(".notice", "Connected discord")

	// The mail server, and a test mail to the owner.
	br.fill("Mail server (SMTP)", mp.SMTPHost)
	br.fill("Port", fmt.Sprint(mp.SMTPPort))
	br.fill("Security", "none")
	br.fill("From", "CAMACA <news@camaca.example>")
	br.press("Check and connect email")
	br.waitText(".notice", "Connected email as news@camaca.example")
	br.press("Send a test mail to " + owner)
	br.waitText(".notice", "Tested email")
	waitMail(t, mp, owner, 1)
	br.waitText("#changes + p + .table-wrap", "mastodon")
	br.axe("channels-connected")
	for _, secret := range []string{acct.AppPassword, discordfake.Token} {
		if strings.Contains(br.eval(`document.documentElement.outerHTML`), secret) {
			t.Errorf("the Channels page shows a secret (%d characters)", len(secret))
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a secret (%d characters)", len(secret))
		}
	}
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		br.screenshots(shots, "channels-connected")
	}

	// Every page follows without a restart: no "nothing is being sent",
	// and the Setup checklist no longer asks to connect anything.
	if got := br.text("body"); strings.Contains(got, "Nothing is being sent") {
		t.Error("the banner still says nothing is being sent")
	}
	br.open("/setup")
	if got := br.text("main"); strings.Contains(got, "only saved to the outbox") {
		t.Errorf("Setup still asks to connect a channel:\n%s", got)
	}

	// Account mail follows too: the Users page now invites by mail.
	br.open("/users")
	if got := br.eval(`String(document.querySelector('form[action="/users/invite"]') !== null)`); got != "true" {
		t.Error("after connecting a mail server, the Users page does not offer invitations by mail")
	}

	// No restart: a post published now goes out on all four.
	br.open("/posts/new")
	br.fill("Title", "Vigil on Friday")
	br.fill("Text", "Join us at 6pm outside the town hall.")
	br.fill("Link", "https://camaca.example/news/vigil")
	br.press("Publish now")
	br.waitText("h1", "Vigil on Friday")
	br.reloadUntil(func() bool {
		for _, ch := range []string{"mastodon", "bluesky", "discord", "email"} {
			if !strings.Contains(br.text("#delivery-"+ch), "sent") || strings.Contains(br.text("#delivery-"+ch), "Saved locally") {
				return false
			}
		}
		return true
	}, 120*time.Second, logs.String)
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	me, err := reader.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if toots, err := reader.GetAccountStatuses(ctx, me.ID, nil); err != nil || len(toots) != 1 || !strings.Contains(toots[0].Content, "news/vigil") {
		t.Errorf("toots on GoToSocial: %d, %v; want the post", len(toots), err)
	}
	if recs := pds.ListRecords(t, acct.DID, "app.bsky.feed.post"); len(recs) != 1 {
		t.Errorf("Bluesky posts: %d, want 1", len(recs))
	}
	if msgs := disc.Messages(discordfake.TextChannelID); len(msgs) != 1 {
		t.Errorf("Discord messages: %d, want 1", len(msgs))
	}
	waitMail(t, mp, "ada@supporters.example", 1)
}

// fillIfShown fills an instance's field when its form has it.
func fillIfShown(br *consoleBrowser, instance, field, value string) {
	br.t.Helper()
	id := "ch-" + instance + "-" + field
	if br.eval(fmt.Sprintf(`String(!!document.getElementById(%q))`, id)) == "true" {
		br.eval(fmt.Sprintf(`(() => { document.getElementById(%q).value = %q; return ''; })()`, id, value))
	}
}
