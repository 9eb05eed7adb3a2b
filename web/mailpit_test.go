package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	engine "github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/subscribers"
)

// waitForMail polls Mailpit until n messages have arrived.
func waitForMail(t *testing.T, mp *mailpit.Server, n int) []mailpit.Summary {
	t.Helper()
	var msgs []mailpit.Summary
	testnet.WaitFor(t, fmt.Sprintf("%d messages in Mailpit", n), 10*time.Second, func() bool {
		var err error
		if msgs, err = mp.Messages(context.Background()); err != nil {
			t.Fatal(err)
		}
		return len(msgs) >= n
	})
	return msgs
}

// TestSubscribeWithRealMail runs the double opt-in with the email channel's
// real sender and a real SMTP server: the form is submitted, the
// confirmation mail arrives in Mailpit, and the link in its text confirms.
func TestSubscribeWithRealMail(t *testing.T) {
	mp := mailpit.Start(t, mailpit.Options{})
	const public = "http://127.0.0.1:8080"
	f := newFixtureWith(t, public, func(f *fixture) subscribers.Mailer {
		cfg := engine.Config{Enabled: true, From: "CAMACA <news@camaca.example.org>", ListID: "news.camaca.example.org",
			SMTP: engine.SMTP{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "none"}}
		env := channels.Env{Campaign: channels.Campaign{Name: "CAMACA", PublicURL: public, Language: "en"}, DB: f.db.DB(),
			Logger: slog.New(slog.DiscardHandler), DataDir: t.TempDir()}
		s, err := engine.NewSender(context.Background(), cfg, env, f.store, f.signer, engine.WithClock(f.clock.Now))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})

	res, body := f.subscribe(t, "zoe@example.org", "Zoë Ó Súilleabháin", "192.0.2.1")
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %d\n%s", res.StatusCode, body)
	}
	msgs := waitForMail(t, mp, 1)
	if to := msgs[0].To; len(to) != 1 || to[0].Address != "zoe@example.org" || to[0].Name != "Zoë Ó Súilleabháin" {
		t.Fatalf("confirmation mail to %+v", to)
	}
	full, err := mp.Message(context.Background(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
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
	if n := len(waitForMail(t, mp, 1)); n != 1 {
		t.Fatalf("%d mails after a repeat for a confirmed address, want 1", n)
	}
}
