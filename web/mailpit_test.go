package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/subscribers"
)

// mailpitPath finds the Mailpit binary, or "" when it is not installed.
func mailpitPath() string {
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "mailpit"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMailpit runs a real Mailpit on loopback and returns its SMTP port and
// API base URL.
func startMailpit(t *testing.T) (int, string) {
	t.Helper()
	bin := mailpitPath()
	if bin == "" {
		t.Skip("Mailpit test skipped: no mailpit binary (go install github.com/axllent/mailpit@v1.33.1)")
	}
	smtpPort, httpPort := freePort(t), freePort(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", httpPort), "--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--max", "0", "--disable-version-check", "--smtp-disable-rdns",
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mailpit: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	api := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(api + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return smtpPort, api
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not become ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type mailpitMessage struct {
	ID      string
	Subject string
	To      []struct{ Name, Address string }
}

// waitForMail polls Mailpit until n messages have arrived.
func waitForMail(t *testing.T, api string, n int) []mailpitMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(api + "/api/v1/messages")
		if err != nil {
			t.Fatal(err)
		}
		var list struct{ Messages []mailpitMessage }
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Messages) >= n {
			return list.Messages
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages in Mailpit, want %d", len(list.Messages), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSubscribeWithRealMail runs the double opt-in with the email channel's
// real sender and a real SMTP server: the form is submitted, the
// confirmation mail arrives in Mailpit, and the link in its text confirms.
func TestSubscribeWithRealMail(t *testing.T) {
	smtpPort, api := startMailpit(t)
	const public = "http://127.0.0.1:8080"
	f := newFixtureWith(t, public, func(f *fixture) subscribers.Mailer {
		cfg := email.Config{Enabled: true, From: "CAMACA <news@camaca.example.org>", ListID: "news.camaca.example.org",
			SMTP: email.SMTP{Host: "127.0.0.1", Port: smtpPort, TLS: "none"}}
		env := channels.Env{Campaign: channels.Campaign{Name: "CAMACA", PublicURL: public, Language: "en"}, DB: f.db.DB(),
			Logger: slog.New(slog.DiscardHandler), DataDir: t.TempDir()}
		s, err := email.NewSender(context.Background(), cfg, env, f.store, f.signer, email.WithClock(f.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})

	res, body := f.subscribe(t, "zoe@example.org", "Zoë Ó Súilleabháin", "192.0.2.1")
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %d\n%s", res.StatusCode, body)
	}
	msgs := waitForMail(t, api, 1)
	if to := msgs[0].To; len(to) != 1 || to[0].Address != "zoe@example.org" || to[0].Name != "Zoë Ó Súilleabháin" {
		t.Fatalf("confirmation mail to %+v", to)
	}
	res2, err := http.Get(api + "/api/v1/message/" + msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var full struct{ Text, HTML string }
	json.NewDecoder(res2.Body).Decode(&full)
	res2.Body.Close()
	link := regexp.MustCompile(regexp.QuoteMeta(public) + `/confirm\?t=[A-Za-z0-9._%~-]+`).FindString(full.Text)
	if link == "" || !strings.Contains(full.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		t.Fatalf("no confirm link in both parts of the mail:\n%s", full.Text)
	}

	u, _ := url.Parse(link)
	page := f.do(httptest.NewRequest("GET", u.RequestURI(), nil), "198.51.100.7")
	if page.StatusCode != 200 || f.status(t, "zoe@example.org") != subscribers.Unconfirmed {
		t.Fatalf("confirm page %d, status %s", page.StatusCode, f.status(t, "zoe@example.org"))
	}
	done := f.do(postForm("/confirm", url.Values{"t": {u.Query().Get("t")}}, nil), "198.51.100.7")
	if done.StatusCode != 200 || f.status(t, "zoe@example.org") != subscribers.Confirmed {
		t.Fatalf("confirm %d, status %s", done.StatusCode, f.status(t, "zoe@example.org"))
	}

	// A second form for the confirmed address sends nothing.
	f.clock.Advance(time.Hour)
	f.subscribe(t, "zoe@example.org", "", "192.0.2.1")
	time.Sleep(200 * time.Millisecond)
	if n := len(waitForMail(t, api, 1)); n != 1 {
		t.Fatalf("%d mails after a repeat for a confirmed address, want 1", n)
	}
}
