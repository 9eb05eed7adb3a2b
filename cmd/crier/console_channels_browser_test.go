package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/web/console"
)

// TestChannelsPageInTheBrowser shows the owner's Channels page in Chromium
// with an instance in each state (connected, not connected, rejected,
// configured on the server): axe-core at 1280 and 390 px, light and dark,
// and the keyboard walk, on the page, on a connect form refused with its
// field marked, and on the disconnect question. The accounts are a
// stand-in (pageAccounts) so every state shows; TestConnectEveryChannelFromTheConsole
// drives the real ones. With CRIER_CONSOLE_SCREENSHOTS=DIR it saves
// screenshots.
func TestChannelsPageInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	// The network's sign-in: the owner allows Crier there, on its page.
	signIn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		back := r.FormValue("redirect_uri")
		if r.Method == http.MethodPost {
			http.Redirect(w, r, back+"?state=s1&code=the-code", http.StatusSeeOther)
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>Authorise</title><form method="post"><input type="hidden" name="redirect_uri" value="%s"><button>Allow</button></form>`, html.EscapeString(back))
	}))
	t.Cleanup(signIn.Close)
	accts := &pageAccounts{server: signIn.URL}
	base := startChannelsConsole(t, accts)
	b := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")
	shoot := func(name string) {
		if shots != "" {
			b.screenshots(shots, name)
		}
	}
	b.signIn("owner@camaca.example", "owner's long passphrase")
	b.press("Channels")
	b.waitText("#channel-mastodon", "Not connected: posts are saved to the outbox")
	b.waitText("#channel-discord", "rejected the connection")
	b.waitText("#channel-mastodon-leeds", "Configured on the server")
	if n := b.eval(`String(document.querySelectorAll('#channel-mastodon-leeds button, #channel-mastodon-leeds input').length)`); n != "0" {
		t.Errorf("an instance configured on the server offers %s controls", n)
	}
	b.axe("channels")
	shoot("channels")

	// A refused app password: the field says why, and is marked invalid.
	b.do("opening Change the connection", chromedp.Click(chromedp.CSS("#channel-bluesky summary")))
	b.fill("Handle", "camaca.bsky.example")
	b.fill("App password", "the-main-password")
	b.press("Check and connect bluesky")
	b.waitText("#channel-bluesky .error", "main password")
	if got := b.attr("#ch-bluesky-app_password", "aria-invalid"); got != "true" {
		t.Errorf("the refused field's aria-invalid: %q", got)
	}
	if got := b.eval(`document.querySelector('#ch-bluesky-app_password').value`); got != "" {
		t.Errorf("the refused form shows the password typed again: %q", got)
	}
	b.axe("channels-refused")
	shoot("channels-refused")

	// Disconnecting asks first, naming the account.
	b.open("/channels")
	b.pressIn("#channel-email", "Disconnect… email")
	b.waitText("h1", "Disconnect news@camaca.example via smtp.camaca.example (email)?")
	b.axe("channels-disconnect")
	shoot("channels-disconnect")
	b.press("Yes, disconnect news@camaca.example via smtp.camaca.example (email)")
	b.waitText(".notice", "Disconnected email")
	if got := accts.said(); !strings.Contains(got, "disconnect email by owner@camaca.example") {
		t.Errorf("the accounts were asked: %s", got)
	}
	// Setup leads here, and Mastodon's sign-in comes back from another
	// site (the console is at localhost, the server at 127.0.0.1): the
	// Strict session cookie is not sent then, and Crier's own page opens
	// the address again, with it.
	b.open("/setup")
	b.press("Connect mastodon on the Channels page")
	b.fill("Server", accts.server)
	b.press("Continue to the server to connect mastodon")
	b.waitText("title", "Authorise")
	b.press("Allow")
	b.waitText(".notice", "Connected mastodon.")
	if got := accts.said(); !strings.Contains(got, "finish s1 the-code by owner@camaca.example") {
		t.Errorf("the accounts were asked: %s", got)
	}
}

// startChannelsConsole serves a console whose Channels page shows accts,
// with an owner signed up, and returns its address.
func startChannelsConsole(t *testing.T, accts console.ChannelAccounts) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users, err := console.OpenUsers(ctx, st.DB(), console.UsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Add(ctx, "owner@camaca.example", console.RoleOwner, "owner's long passphrase"); err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	// Named localhost, so that another site's address is 127.0.0.1.
	base := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	london, _ := time.LoadLocation("Europe/London")
	c, err := console.New(console.Options{Users: users, Store: st, Publisher: channelsPublisher{}, Accounts: accts,
		Outbox:    map[string]string{"mastodon": "no Mastodon account connected"},
		PublicURL: base, DataDir: t.TempDir(), Location: london, Campaign: "CAMACA",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h = c.Handler()
	return base
}

// pageAccounts shows one instance in each state, with the real channel
// types' connect fields; Connect refuses the
// Bluesky password as a main password, and Disconnect is recorded.
type pageAccounts struct {
	// server is the OAuth server StartOAuth sends the owner to.
	server string
	mu     sync.Mutex
	asked  []string
}

func (p *pageAccounts) said() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.asked, "; ")
}

func (p *pageAccounts) Instances(ctx context.Context) ([]console.ChannelInstance, error) {
	since := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	connected := string(accounts.FromConsole)
	return []console.ChannelInstance{
		{Name: "mastodon", Type: "mastodon", Origin: string(accounts.NotConnected), Editable: true, Connectable: true, OAuth: true,
			Can:    []string{"edit posts", "withdraw posts", "read reach", "images with descriptions"},
			Fields: mastodon.Provider{}.ConnectFields()},
		{Name: "bluesky", Type: "bluesky", Origin: connected, Editable: true, Connectable: true,
			Display: "@camaca.bsky.social", ConnectedBy: "owner@camaca.example", ConnectedAt: since,
			Can:      []string{"withdraw posts", "read reach", "images with descriptions"},
			Settings: map[string]string{"handle": "camaca.bsky.social"}, SecretsSet: map[string]time.Time{"app_password": since},
			Fields: bluesky.Provider{}.ConnectFields()},
		{Name: "discord", Type: "discord", Origin: connected, Editable: true, Connectable: true,
			Display: "#announcements on CAMACA", ConnectedBy: "owner@camaca.example", ConnectedAt: since,
			RejectedAt: since.Add(72 * time.Hour), RejectedReason: "the webhook was deleted in Discord",
			Can:    []string{"edit posts", "withdraw posts"},
			Fields: discord.Provider{}.ConnectFields()},
		{Name: "email", Type: "email", Origin: connected, Editable: true, Connectable: true, TestSends: true,
			Display: "news@camaca.example via smtp.camaca.example", ConnectedBy: "owner@camaca.example", ConnectedAt: since,
			Can:        []string{"a newsletter to the supporters", "images with descriptions"},
			Settings:   map[string]string{"smtp.host": "smtp.camaca.example", "smtp.port": "587", "smtp.tls": "starttls", "smtp.username": "news@camaca.example", "from": "CAMACA <news@camaca.example>"},
			SecretsSet: map[string]time.Time{"smtp.password": since},
			Fields:     email.Provider{}.ConnectFields()},
		{Name: "mastodon-leeds", Type: "mastodon", Origin: string(accounts.OnServer), Editable: false, Connectable: true,
			Display: "@camaca@leeds.social", Can: []string{"edit posts", "withdraw posts", "read reach"}},
	}, nil
}

func (p *pageAccounts) Connect(ctx context.Context, actor, instance string, values map[string]string) (string, error) {
	return "", &channels.ConnectError{Field: "app_password", Reason: "Bluesky says this is the account's main password. Make an app password instead (see above)."}
}

func (p *pageAccounts) StartOAuth(ctx context.Context, actor, instance string, values map[string]string, redirectURI string) (string, error) {
	if values["instance"] != p.server {
		return "", &channels.ConnectError{Field: "instance", Reason: "not the test's server"}
	}
	return p.server + "/oauth/authorize?redirect_uri=" + url.QueryEscape(redirectURI), nil
}

func (p *pageAccounts) FinishOAuth(ctx context.Context, actor, state, code string) (string, string, error) {
	p.mu.Lock()
	p.asked = append(p.asked, "finish "+state+" "+code+" by "+actor)
	p.mu.Unlock()
	return "mastodon", "", nil
}

func (p *pageAccounts) Test(ctx context.Context, actor, instance, to string) (string, error) {
	return "it works", nil
}

func (p *pageAccounts) Disconnect(ctx context.Context, actor, instance string) error {
	p.mu.Lock()
	p.asked = append(p.asked, "disconnect "+instance+" by "+actor)
	p.mu.Unlock()
	return nil
}

func (p *pageAccounts) Audit(ctx context.Context, limit int) ([]console.AccountEvent, error) {
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	return []console.AccountEvent{
		{At: at.Add(72 * time.Hour), Actor: "Crier", Instance: "discord", Action: "rejected", Detail: "the webhook was deleted in Discord"},
		{At: at.Add(time.Hour), Actor: "owner@camaca.example", Instance: "email", Action: "tested", Detail: "a test mail went to owner@camaca.example"},
		{At: at, Actor: "owner@camaca.example", Instance: "bluesky", Action: "connected", Detail: "as @camaca.bsky.social"},
	}, nil
}

// channelsPublisher is the console's bot for a page that publishes nothing.
type channelsPublisher struct{}

func (channelsPublisher) Publish(ctx context.Context, p post.Post) ([]string, error) { return nil, nil }
func (channelsPublisher) Retry(ctx context.Context, id string, only []string) ([]string, error) {
	return nil, nil
}
func (channelsPublisher) ChannelNames() []string {
	return []string{"bluesky", "discord", "email", "mastodon", "mastodon-leeds"}
}
func (channelsPublisher) NextDigest(now time.Time) (time.Time, bool) { return time.Time{}, false }
