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

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/connections"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// connectionsOf opens the bundle's connected accounts as another process
// on the same store would (the console of another replica, or of this one):
// what the daemon must follow without a restart.
func (b *bundle) connectionsOf(client *http.Client) *connections.Service {
	b.t.Helper()
	ctx := context.Background()
	app := b.app(io.Discard, io.Discard, client)
	app.Registry, app.ConfigPath = providers(), b.cfg
	cfg, insts, err := app.loadConfig()
	if err != nil {
		b.t.Fatal(err)
	}
	app.Config, app.Instances = cfg, insts
	st, err := app.OpenStore(ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { st.Close() })
	env := channels.Env{Campaign: app.campaign(), DB: st.DB(), HTTPClient: client, DataDir: cfg.DataPath(), OutboxDir: cfg.DataPath("outbox")}
	svc, err := app.openConnections(ctx, env, outboxSender(env.OutboxDir))
	if err != nil {
		b.t.Fatal(err)
	}
	return svc
}

// discordAnd sends discord.com to the fake and everything else on its way.
func discordAnd(fake *discordfake.Server) *http.Client {
	toFake := fake.Transport()
	return &http.Client{Timeout: 30 * time.Second, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if strings.HasSuffix(r.URL.Hostname(), "discord.com") {
			return toFake.RoundTrip(r)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
}

// TestConnectFromTheConsoleWithoutARestart: a daemon started with no
// credentials renders to the outbox; an owner connects Mastodon (signing in
// on GoToSocial's own pages), Bluesky, Discord and the mail server through
// ChannelAccounts, on the same store; the next post goes out for real on
// all four without a restart, and a disconnect sends the next one back to
// the outbox. No secret reaches the log or the outbox.
func TestConnectFromTheConsoleWithoutARestart(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{})
	user := gts.NewUser(t)
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	fake := discordfake.New(t)
	mp := mailpit.Start(t, mailpit.Options{})
	client := discordAnd(fake)
	ctx := context.Background()

	b := setup(t, "")
	posts := filepath.Join(b.dir, "posts")
	os.MkdirAll(posts, 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
delivery: {timeout: 30s, max_attempts: 3}
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
	logs := b.startDaemon(base+"/healthz", client)
	all := []string{"mastodon", "bluesky", "discord", "email"}
	waitSent := func(id string, outbox bool) {
		t.Helper()
		want := "sent"
		if outbox {
			want = "rendered" // saved to the outbox: nothing was sent
		}
		ok := testnet.Poll(120*time.Second, func() bool {
			st := b.status().deliveries()
			for _, ch := range all {
				if st[id+"/"+ch] != want {
					return false
				}
			}
			return true
		})
		if !ok {
			t.Fatalf("%s not delivered on every channel: %v\nlogs:\n%s", id, b.status().deliveries(), logs.String())
		}
		for _, ch := range all {
			files, _ := filepath.Glob(filepath.Join(b.dir, "data", "outbox", ch, strings.ReplaceAll(id, ":", "-")+"*"))
			if (len(files) > 0) != outbox {
				t.Errorf("%s to %s: outbox files %v, want some: %v\nlogs:\n%s", id, ch, files, outbox, logs.String())
			}
		}
	}
	writePost(t, posts, "before.md", "Before connecting", "Nothing is connected yet.")
	waitSent("md:before", true)

	svc := b.connectionsOf(client)
	const owner = "owner@camaca.example"
	if d, err := svc.Connect(ctx, owner, "bluesky", map[string]string{"handle": acct.Handle, "app_password": acct.AppPassword, "service": pds.URL}); err != nil || d != "@"+acct.Handle {
		t.Fatalf("bluesky: %q, %v", d, err)
	}
	if _, err := svc.Connect(ctx, owner, "discord", map[string]string{"token": discordfake.Token, "channel_id": discordfake.TextChannelID}); err != nil {
		t.Fatalf("discord: %v", err)
	}
	const smtpPassword = "smtp-secret-4f2a"
	if _, err := svc.Connect(ctx, owner, "email", map[string]string{"smtp.host": mp.SMTPHost, "smtp.port": fmt.Sprint(mp.SMTPPort), "smtp.tls": "none",
		"smtp.username": "news", "smtp.password": smtpPassword, "from": "CAMACA <news@camaca.example>"}); err != nil {
		t.Fatalf("email: %v", err)
	}
	redirect := base + "/channels/oauth/callback"
	authorize, err := svc.StartOAuth(ctx, owner, "mastodon", map[string]string{"instance": gts.URL}, redirect)
	if err != nil {
		t.Fatal(err)
	}
	back, err := gts.Authorize(ctx, user, authorize)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), redirect+"?") {
		t.Fatalf("GoToSocial sent the owner to %s, want %s", back, redirect)
	}
	if _, _, err := svc.FinishOAuth(ctx, "someone-else@camaca.example", back.Query().Get("state"), back.Query().Get("code")); err == nil {
		t.Fatal("another owner finished this owner's sign-in")
	}
	// The state was used by that attempt: the owner starts again.
	authorize, _ = svc.StartOAuth(ctx, owner, "mastodon", map[string]string{"instance": gts.URL}, redirect)
	back, err = gts.Authorize(ctx, user, authorize)
	if err != nil {
		t.Fatal(err)
	}
	inst, display, err := svc.FinishOAuth(ctx, owner, back.Query().Get("state"), back.Query().Get("code"))
	if want := "@" + user.Username + "@" + strings.TrimPrefix(gts.URL, "http://"); err != nil || inst != "mastodon" || display != want {
		t.Fatalf("FinishOAuth = %q, %q, %v; want mastodon as %s", inst, display, err, want)
	}
	if _, _, err := svc.FinishOAuth(ctx, owner, back.Query().Get("state"), back.Query().Get("code")); err == nil {
		t.Fatal("a state was used twice")
	}
	list, err := svc.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range list {
		if ci.Origin != "connected from the console" || ci.Display == "" || !ci.Editable {
			t.Errorf("%s: origin %q, display %q, editable %v", ci.Name, ci.Origin, ci.Display, ci.Editable)
		}
	}
	if _, err := svc.Test(ctx, owner, "email", "owner@camaca.example"); err != nil {
		t.Fatalf("test mail: %v", err)
	}
	waitMail(t, mp, "owner@camaca.example", 1)
	// A supporter who subscribes now gets the confirmation by mail, not in
	// the outbox.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	form := get(t, browser, base+"/subscribe")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if csrf == nil {
		t.Fatalf("no CSRF token in the form:\n%s", form)
	}
	resp, err := browser.PostForm(base+"/subscribe", url.Values{"csrf": {csrf[1]}, "email": {"ben@supporters.example"}, "consent": {"yes"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", err, resp)
	}
	resp.Body.Close()
	waitMail(t, mp, "ben@supporters.example", 1)

	// No restart: the next post goes out for real everywhere.
	writePost(t, posts, "after.md", "After connecting", "Sent for real.")
	waitSent("md:after", false)
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	me, err := reader.GetAccountCurrentUser(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if toots, err := reader.GetAccountStatuses(ctx, me.ID, nil); err != nil || len(toots) != 1 || !strings.Contains(toots[0].Content, "news/after") {
		t.Errorf("toots on GoToSocial: %d, %v; want the one post", len(toots), err)
	}
	if recs := pds.ListRecords(t, acct.DID, "app.bsky.feed.post"); len(recs) != 1 {
		t.Errorf("Bluesky posts: %d, want 1", len(recs))
	}
	if msgs := fake.Messages(discordfake.TextChannelID); len(msgs) != 1 {
		t.Errorf("Discord messages: %d, want 1", len(msgs))
	}
	waitMail(t, mp, "ada@supporters.example", 1)

	// A disconnect sends the next post back to the outbox.
	if err := svc.Disconnect(ctx, owner, "discord"); err != nil {
		t.Fatal(err)
	}
	writePost(t, posts, "later.md", "After disconnecting Discord", "Discord saves it locally.")
	testnet.WaitFor(t, "md:later to Discord", 60*time.Second, func() bool { return b.status().deliveries()["md:later/discord"] == "rendered" })
	if files, _ := filepath.Glob(filepath.Join(b.dir, "data", "outbox", "discord", "md-later*")); len(files) == 0 || len(fake.Messages(discordfake.TextChannelID)) != 1 {
		t.Errorf("after the disconnect: outbox %v, Discord messages %d", files, len(fake.Messages(discordfake.TextChannelID)))
	}
	events, _ := svc.Audit(ctx, 0)
	if len(events) < 8 {
		t.Errorf("audit trail has %d events, want every connect, sign-in, test and disconnect", len(events))
	}
	for _, secret := range []string{acct.AppPassword, discordfake.Token, smtpPassword} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log shows a secret (%d characters)", len(secret))
		}
		for _, e := range events {
			if strings.Contains(e.Detail, secret) {
				t.Errorf("the audit trail shows a secret: %q", e.Detail)
			}
		}
		outboxHas(t, filepath.Join(b.dir, "data", "outbox"), secret)
	}
}

// outboxHas fails the test when a file under dir holds secret.
func outboxHas(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if data, _ := os.ReadFile(p); strings.Contains(string(data), secret) {
				t.Errorf("%s holds a secret", p)
			}
		}
		return nil
	})
}

// TestReplicaFollowsAConnectMadeOnAnother: two daemons on one PostgreSQL,
// both started without credentials. Discord is connected through the first
// one's accounts, the first is stopped, and the second, which never
// restarted, sends the next post (queued by crier publish, recorded as sent)
// with that connection; a disconnect made on the first's store sends the
// one after to its outbox.
func TestReplicaFollowsAConnectMadeOnAnother(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two daemons; skipped with -short")
	}
	t.Parallel()
	fake := discordfake.New(t)
	client := discordAnd(fake)
	dsn := pgpeer.DSN(t)
	key, _ := accounts.NewKey()
	var rs []*bundle
	var stops []func()
	var logs []*syncBuffer
	for range 2 {
		r := setup(t, "")
		os.MkdirAll(filepath.Join(r.dir, "posts"), 0o755)
		addr := testnet.FreeAddr(t)
		r.setenv(accounts.EnvKey, key.Encode())
		r.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: "http://%s"}
store: {driver: postgres, dsn: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
delivery: {timeout: 30s, max_attempts: 3}
channels:
  mastodon: {enabled: false}
  email: {enabled: false}
  discord: {enabled: true}
`, addr, addr, dsn))
		l, stop := r.startStoppable("http://"+addr+"/healthz", client)
		rs, stops, logs = append(rs, r), append(stops, stop), append(logs, l)
	}
	ctx := context.Background()
	svc := rs[0].connectionsOf(client)
	if _, err := svc.Connect(ctx, "owner@camaca.example", "discord", map[string]string{"webhook_url": discordfake.WebhookURL(discordfake.WebhookID)}); err != nil {
		t.Fatal(err)
	}
	stops[0]()
	// The post is queued with crier publish; only the second replica runs.
	writePost(t, rs[1].dir, "news.md", "News for every replica", "Sent by the replica that did not connect.")
	if code, out, errs := rs[1].crier("publish", filepath.Join(rs[1].dir, "news.md")); code != 0 {
		t.Fatalf("publish: %s %s", out, errs)
	}
	if !testnet.Poll(60*time.Second, func() bool { return len(fake.Messages(discordfake.TextChannelID)) == 1 }) {
		t.Fatalf("the second replica did not send with the connection: %v\nlogs:\n%s", rs[1].status().deliveries(), logs[1].String())
	}
	// Recorded as sent for real, not as saved to the outbox.
	testnet.WaitFor(t, "md:news recorded as sent", 30*time.Second, func() bool { return rs[1].status().deliveries()["md:news/discord"] == "sent" })
	if err := svc.Disconnect(ctx, "owner@camaca.example", "discord"); err != nil {
		t.Fatal(err)
	}
	writePost(t, filepath.Join(rs[1].dir, "posts"), "more.md", "After the disconnect", "Saved locally.")
	testnet.WaitFor(t, "md:more to Discord's outbox", 60*time.Second, func() bool {
		files, _ := filepath.Glob(filepath.Join(rs[1].dir, "data", "outbox", "discord", "md-more*"))
		return len(files) > 0
	})
	if n := len(fake.Messages(discordfake.TextChannelID)); n != 1 {
		t.Fatalf("after the disconnect Discord has %d messages, want still 1", n)
	}
}
