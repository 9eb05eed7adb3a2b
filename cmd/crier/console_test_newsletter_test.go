package main

import (
	"context"
	"io"
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
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestConsoleTestNewsletterReachesTheOrganiser: the post page's "Send a
// test newsletter to me" button, pressed by a signed-in editor on a post
// scheduled for later, mails that post's newsletter to the editor, through
// the daemon's real email channel to a real SMTP server (Mailpit), and to
// nobody else; the post stays scheduled.
func TestConsoleTestNewsletterReachesTheOrganiser(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{})
	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "vigil.md"), []byte(`---
title: Vigil for survivors on Saturday
publish_at: 2099-01-01T09:00:00Z
summary: Join us at the town hall at 6pm.
---
We meet at 6pm, whatever the weather.
`), 0o644)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b.write("config.yaml", mailpitConfig(addr, mp, "", "")+"schedules: {publish_due: \"@every 1s\"}\n")
	const editor = "ed.editor@camaca.example"
	b.addUser(editor, "editor", "editor's long passphrase")

	b.startDaemon(base+"/healthz", http.DefaultClient)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	login := get(t, browser, base+"/login")
	token := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(login)
	if token == nil {
		t.Fatalf("no login token on the sign-in page:\n%s", login)
	}
	resp, err := browser.PostForm(base+"/login", url.Values{"login_token": {token[1]}, "email": {editor}, "password": {"editor's long passphrase"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The scan records the scheduled post; its page offers the button.
	var page string
	testnet.WaitFor(t, "the scheduled post's page", 30*time.Second, func() bool {
		resp, err := browser.Get(base + "/posts/md:vigil")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		page = string(b)
		return resp.StatusCode == http.StatusOK && strings.Contains(page, "Send a test newsletter to me")
	})
	csrf := regexp.MustCompile(`action="/posts/md:vigil/test"><input type="hidden" name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no test-newsletter form with a CSRF token on the post page:\n%s", page)
	}
	resp, err = browser.PostForm(base+"/posts/md:vigil/test", url.Values{"csrf": {csrf[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pressing the button: %d\n%s", resp.StatusCode, body)
	}

	var got []mailpit.Summary
	testnet.WaitFor(t, "the test newsletter in Mailpit", 30*time.Second, func() bool {
		got, _ = mp.Messages(context.Background())
		return len(got) > 0
	})
	time.Sleep(500 * time.Millisecond) // room for a stray second mail
	got, _ = mp.Messages(context.Background())
	if len(got) != 1 || len(got[0].To) != 1 || got[0].To[0].Address != editor || !strings.Contains(got[0].Subject, "Vigil for survivors") {
		t.Fatalf("Mailpit has %+v; want one mail, the vigil's newsletter, to %s", got, editor)
	}
	// A test copy is not the send: the post is still scheduled, and the
	// page's history says who asked for the copy.
	page = get(t, browser, base+"/posts/md:vigil")
	state := regexp.MustCompile(`class="state state-([a-z_]+)"`).FindStringSubmatch(page)
	if state == nil || state[1] != "scheduled" {
		t.Errorf("after the test copy the post's state is %v, want scheduled", state)
	}
	if !strings.Contains(page, "test newsletter sent") {
		t.Errorf("the post's history does not record the test copy:\n%s", page)
	}
}
