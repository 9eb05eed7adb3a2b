package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestConsoleNoticeThroughMailpit: an author's Submit in the daemon's
// console queues a notice job, and the editor gets its mail through the
// newsletter's real SMTP server (Mailpit); the author, who did it, gets
// none.
func TestConsoleNoticeThroughMailpit(t *testing.T) {
	t.Parallel()
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	base, mp := startMailingConsole(t, editor, "editor", "editor's long passphrase", [3]string{author, "author", "author's long passphrase"})
	submitPost(t, base, author, "author's long passphrase", "Vigil on Friday")
	var got []mailpit.Summary
	testnet.WaitFor(t, "the notice in Mailpit", 30*time.Second, func() bool {
		got, _ = mp.Messages(context.Background())
		return len(got) > 0
	})
	time.Sleep(500 * time.Millisecond) // room for a stray mail to the author
	got, _ = mp.Messages(context.Background())
	if len(got) != 1 || got[0].To[0].Address != editor || !strings.Contains(got[0].Subject, `"Vigil on Friday" was submitted for review`) {
		t.Fatalf("Mailpit has %+v; want one notice to %s", got, editor)
	}
	msg, err := mp.Message(context.Background(), got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Text, base+"/posts/") || !strings.Contains(msg.Text, base+"/account/notifications") {
		t.Errorf("the notice should link the post and the settings:\n%s", msg.Text)
	}
}

// submitPost signs in to the console at base and submits a post for
// review with the given title.
func submitPost(t *testing.T, base, email, password, title string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	field := func(page, name string) string {
		m := regexp.MustCompile(`name="` + name + `" value="([^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s on the page:\n%s", name, page)
		}
		return m[1]
	}
	postForm(t, browser, base+"/login", url.Values{"login_token": {field(get(t, browser, base+"/login"), "login_token")},
		"email": {email}, "password": {password}})
	csrf := field(get(t, browser, base+"/posts/new"), "csrf")
	if body := postForm(t, browser, base+"/posts", url.Values{"csrf": {csrf}, "title": {title},
		"body": {"Join us at 6pm."}, "link": {"https://camaca.example/vigil"}, "action": {"submit"}}); !strings.Contains(body, title) {
		t.Fatalf("submitting:\n%s", body)
	}
}

// TestFailedDeliveryNotifiesEditors: a Discord delivery refused for good
// (401) reaches the bot's OnFailed hook in the daemon; the editor gets the
// notice through Mailpit and the organisers' Discord channel (the fake's
// webhook, console.notify.discord_webhook) gets it too.
func TestFailedDeliveryNotifiesEditors(t *testing.T) {
	t.Parallel()
	const editor = "ed.editor@camaca.example"
	mp := mailpit.Start(t, mailpit.Options{})
	fake := discordfake.New(t)
	fake.Inject(discordfake.Fault{Operation: "create_message", Status: http.StatusUnauthorized, Code: 0, Message: "401: Unauthorized"})
	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "vigil.md"), []byte("---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nJoin us at 6pm.\n"), 0o644)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	b.setenv("ORGANISERS_DISCORD_WEBHOOK", discordfake.WebhookURL(discordfake.WebhookID))
	cfg := b.cfg
	os.WriteFile(cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
console: {notify: {discord_webhook: "${ORGANISERS_DISCORD_WEBHOOK}"}}
channels:
  mastodon: {enabled: false}
  discord:
    mode: send
    token: ${TEST_DISCORD_TOKEN}
    channel_id: %q
  email:
    mode: send
    smtp: {host: %q, port: %d, tls: none}
    from: "CAMACA <news@camaca.example>"
    link_secret: ${TEST_LINK_SECRET}
`, addr, base, discordfake.AnnouncementChannelID, mp.SMTPHost, mp.SMTPPort)), 0o644)
	b.addUser(editor, "editor", "editor's long passphrase")
	logs := b.startDaemon(base+"/healthz", fake.Client())

	var got []mailpit.Summary
	testnet.WaitFor(t, "the failure notice in Mailpit", 60*time.Second, func() bool {
		got, _ = mp.Messages(context.Background())
		for _, m := range got {
			if strings.Contains(m.Subject, `"Vigil on Friday" could not be delivered to discord`) && m.To[0].Address == editor {
				return true
			}
		}
		return false
	})
	testnet.WaitFor(t, "the failure notice in the organisers' Discord channel", 30*time.Second, func() bool {
		for _, m := range fake.Messages(discordfake.TextChannelID) {
			if strings.Contains(m.Content, "could not be delivered to discord") {
				return true
			}
		}
		return false
	})
	if strings.Contains(logs.String(), editor) {
		t.Error("the editor's address is in the daemon's log")
	}
}
