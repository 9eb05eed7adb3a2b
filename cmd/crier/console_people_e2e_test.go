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

// TestConsoleForgotPasswordThroughMailpit: "Forgot your password?" on the
// daemon's console mails a link through the newsletter's real SMTP server
// (Mailpit) to the user, and the link sets a new password they can sign in
// with; an address without an account gets the same answer and no mail.
func TestConsoleForgotPasswordThroughMailpit(t *testing.T) {
	t.Parallel()
	const editor = "ed.editor@camaca.example"
	base, mp := startMailingConsole(t, editor, "editor", "editor's long passphrase")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	tokenRe := regexp.MustCompile(`name="login_token" value="([^"]+)"`)
	forgot := func(email string) string {
		m := tokenRe.FindStringSubmatch(get(t, browser, base+"/forgot"))
		if m == nil {
			t.Fatal("no form on /forgot with a mail server configured")
		}
		return postForm(t, browser, base+"/forgot", url.Values{"login_token": {m[1]}, "email": {email}})
	}
	if a, b := forgot("nobody@camaca.example"), forgot(editor); a != b || !strings.Contains(b, "a link is on its way") {
		t.Fatalf("answers differ:\n%s\n---\n%s", a, b)
	}
	var got []mailpit.Summary
	testnet.WaitFor(t, "the reset mail in Mailpit", 30*time.Second, func() bool {
		got, _ = mp.Messages(context.Background())
		return len(got) > 0
	})
	time.Sleep(500 * time.Millisecond) // room for a stray mail to the unknown address
	got, _ = mp.Messages(context.Background())
	if len(got) != 1 || got[0].To[0].Address != editor {
		t.Fatalf("Mailpit has %+v; want one mail to %s", got, editor)
	}
	msg, err := mp.Message(context.Background(), got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if msg.HTML != "" || !strings.Contains(msg.Subject, "CAMACA console") {
		t.Errorf("the reset mail should be plain text about the CAMACA console: subject %q, HTML %d bytes", msg.Subject, len(msg.HTML))
	}
	link := regexp.MustCompile(regexp.QuoteMeta(base) + `/reset/[A-Za-z0-9_-]+`).FindString(msg.Text)
	if link == "" {
		t.Fatalf("no reset link in the mail:\n%s", msg.Text)
	}
	const pw = "a brand new passphrase"
	if body := postForm(t, browser, link, url.Values{"password": {pw}, "confirm": {pw}}); !strings.Contains(body, "Password changed") {
		t.Fatalf("setting the password:\n%s", body)
	}
	m := tokenRe.FindStringSubmatch(get(t, browser, base+"/login"))
	resp, err := (&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		PostForm(base+"/login", url.Values{"login_token": {m[1]}, "email": {editor}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signing in with the new password: %d", resp.StatusCode)
	}
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) string {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// startMailingConsole runs the daemon with its console and the newsletter
// sending through a Mailpit, with one console user; it returns the
// console's address and the Mailpit. more are further users, each an
// address, a role and a password.
func startMailingConsole(t *testing.T, email, role, password string, more ...[3]string) (string, *mailpit.Server) {
	t.Helper()
	mp := mailpit.Start(t, mailpit.Options{})
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, mailpitConfig(addr, mp, "", ""))
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755) // mailpitConfig's sources.markdown.dir
	b.addUser(email, role, password)
	for _, u := range more {
		b.addUser(u[0], u[1], u[2])
	}
	b.startDaemon(base+"/healthz", http.DefaultClient)
	return base, mp
}
