package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestConsoleNoticeThroughMailpit: an author's Submit in the daemon's
// console queues a notice job, and the editor gets its mail through the
// newsletter's real SMTP server (Mailpit); the author, who did it, gets
// none.
func TestConsoleNoticeThroughMailpit(t *testing.T) {
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	base, mp := startMailingConsole(t, editor, "editor", "editor's long passphrase", [3]string{author, "author", "author's long passphrase"})

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
		"email": {author}, "password": {"author's long passphrase"}})
	csrf := field(get(t, browser, base+"/posts/new"), "csrf")
	if body := postForm(t, browser, base+"/posts", url.Values{"csrf": {csrf}, "title": {"Vigil on Friday"},
		"body": {"Join us at 6pm."}, "link": {"https://camaca.example/vigil"}, "action": {"submit"}}); !strings.Contains(body, "Vigil on Friday") {
		t.Fatalf("submitting:\n%s", body)
	}
	var got []mailpit.Summary
	waitFor(t, "the notice in Mailpit", 30*time.Second, func() bool {
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
