package main

import (
	"context"
	"fmt"
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

// TestNewsletterThroughTheDaemon is a supporter's whole journey against a
// real SMTP server: subscribe through the form, confirm from the mail, get a
// post, leave with one click, and get nothing after that.
func TestNewsletterThroughTheDaemon(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{})
	ctx := context.Background()

	b := setup(t, "")
	dir := b.dir
	posts := filepath.Join(dir, "posts")
	os.MkdirAll(posts, 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b.write("config.yaml", mailpitConfig(addr, mp, "", "")+"schedules: {publish_due: \"@every 1s\"}\n")

	logs := b.startDaemon(base+"/healthz", http.DefaultClient)

	// 1. Subscribe through the form, as a browser would (cookies, CSRF token).
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	form := get(t, browser, base+"/subscribe")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if csrf == nil {
		t.Fatalf("no CSRF token in the form:\n%s", form)
	}
	const supporter = "ada@supporters.example"
	resp, err := browser.PostForm(base+"/subscribe", url.Values{"csrf": {csrf[1]}, "email": {supporter}, "name": {"Ada"}, "consent": {"yes"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	resp.Body.Close()

	// 2. The confirmation mail arrives; its link confirms (GET shows a button, POST confirms).
	confirmMail := waitMail(t, mp, supporter, 1)[0]
	msg, err := mp.Message(ctx, confirmMail.ID)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`https?://\S+/confirm\?t=[A-Za-z0-9_.%=-]+`).FindString(msg.Text)
	if link == "" {
		t.Fatalf("no confirm link in:\n%s", msg.Text)
	}
	page := get(t, browser, link)
	tok := regexp.MustCompile(`name="t" value="([^"]+)"`).FindStringSubmatch(page)
	if tok == nil {
		t.Fatalf("confirm page has no form:\n%s", page)
	}
	vals := url.Values{"t": {tok[1]}}
	if c := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page); c != nil {
		vals.Set("csrf", c[1])
	}
	resp, err = browser.PostForm(base+"/confirm", vals)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("confirm: %v %v", err, resp)
	}
	resp.Body.Close()

	// 3. A post goes out to the confirmed supporter.
	writePost(t, posts, "first.md", "ICAT issues a Call to Action", "It is welcome, and it will not go far enough.")
	mails := waitMail(t, mp, supporter, 2)
	var newsletter mailpit.Summary
	for _, m := range mails {
		if strings.Contains(m.Subject, "ICAT") {
			newsletter = m
		}
	}
	if newsletter.ID == "" {
		t.Fatalf("no newsletter among %+v", mails)
	}
	headers, err := mp.Headers(ctx, newsletter.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "Message-Id", "List-Id"} {
		if len(headers[h]) == 0 {
			t.Errorf("newsletter lacks %s; headers: %v", h, headers)
		}
	}
	full, _ := mp.Message(ctx, newsletter.ID)
	if !strings.Contains(full.Text, "will not go far enough") || !strings.Contains(full.HTML, "will not go far enough") {
		t.Errorf("both parts must carry the post:\ntext: %.300s\nhtml: %.300s", full.Text, full.HTML)
	}

	// 4. One-click unsubscribe (RFC 8058), as a mail provider does it.
	oneClick := regexp.MustCompile(`<(https?://[^>]+)>`).FindStringSubmatch(strings.Join(headers["List-Unsubscribe"], ","))
	if oneClick == nil {
		t.Fatalf("no https one-click URL in List-Unsubscribe: %v", headers["List-Unsubscribe"])
	}
	resp, err = http.Post(oneClick[1], "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("one-click unsubscribe: %v %v", err, resp)
	}
	resp.Body.Close()

	// 5. The next post no longer reaches them.
	writePost(t, posts, "second.md", "UNODC is not up to the job", "The UN needs to support CAMACA.")
	b.waitDelivered("md:second")
	for _, m := range waitMail(t, mp, supporter, 2) {
		if strings.Contains(m.Subject, "UNODC") {
			t.Fatalf("an unsubscribed supporter received %q", m.Subject)
		}
	}
	// 6. Through all of it the daemon logged the supporter by id only.
	if strings.Contains(strings.ToLower(logs.String()), supporter) {
		t.Errorf("the supporter's address is in the daemon's log:\n%s", logs.String())
	}
}

func writePost(t *testing.T, dir, name, title, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("---\ntitle: "+title+"\nlink: https://camaca.example/news/"+strings.TrimSuffix(name, ".md")+"\n---\n"+body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b)
	}
	return string(b)
}

// waitMail waits until at least n messages to the address arrived.
func waitMail(t *testing.T, mp *mailpit.Server, to string, n int) []mailpit.Summary {
	t.Helper()
	var got []mailpit.Summary
	testnet.WaitFor(t, fmt.Sprintf("%d mails to %s", n, to), 60*time.Second, func() bool {
		all, err := mp.Messages(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, m := range all {
			for _, a := range m.To {
				if strings.EqualFold(a.Address, to) {
					got = append(got, m)
				}
			}
		}
		return len(got) >= n
	})
	return got
}

// waitDelivered waits until the post's email delivery is recorded as sent.
func (b *bundle) waitDelivered(postID string) {
	b.t.Helper()
	testnet.WaitFor(b.t, postID+" delivered", 60*time.Second, func() bool { return b.status().deliveries()[postID+"/email"] == "sent" })
}
