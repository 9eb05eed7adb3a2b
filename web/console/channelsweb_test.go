package console

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
)

// fakeAccounts stands in for the daemon's ChannelAccounts: four instances
// in the four states, recording what the console asked for. The engine's
// own tests (and cmd/crier's end-to-end test) check the real thing.
type fakeAccounts struct {
	mu    sync.Mutex
	insts []ChannelInstance
	// calls are "action instance actor" lines, with the test's to.
	calls []string
	// refuse is what Connect and StartOAuth answer, when set.
	refuse   error
	values   map[string]string
	redirect string
	events   []AccountEvent
}

// fakeSecret is stored for bluesky; no page may ever show it.
const fakeSecret = "abcd-efgh-ijkl-mnop"

func newFakeAccounts() *fakeAccounts {
	day := time.Date(2031, 4, 20, 10, 0, 0, 0, time.UTC)
	return &fakeAccounts{insts: []ChannelInstance{
		{Name: "mastodon", Type: "mastodon", Origin: string(accounts.NotConnected), Editable: true, Connectable: true, OAuth: true,
			Can:    []string{"edit posts", "withdraw posts", "read reach", "images with descriptions"},
			Fields: []channels.ConnectField{{Name: "server", Label: "Your Mastodon server", Help: "The address of the server the campaign's account is on, such as social.example."}}},
		{Name: "bluesky", Type: "bluesky", Origin: string(accounts.FromConsole), Editable: true, Connectable: true,
			Display: "@camaca.bsky.example", ConnectedBy: "owner@example.org", ConnectedAt: day,
			Can:      []string{"withdraw posts", "read reach"},
			Settings: map[string]string{"handle": "camaca.bsky.example"}, SecretsSet: map[string]time.Time{"app_password": day},
			Fields: []channels.ConnectField{
				{Name: "handle", Label: "Handle", Help: "The account's handle, such as camaca.bsky.social."},
				{Name: "app_password", Label: "App password", Help: "Make one in Bluesky under Settings, Privacy and security, App passwords. Not your main password.", Secret: true}}},
		{Name: "discord", Type: "discord", Origin: string(accounts.FromConsole), Editable: true, Connectable: true,
			Display: "#campaign on CAMACA", ConnectedBy: "owner@example.org", ConnectedAt: day,
			RejectedAt: day.Add(24 * time.Hour), RejectedReason: "Discord answered 401: the webhook was deleted",
			Fields: []channels.ConnectField{{Name: "webhook", Label: "Webhook address", Help: "In Discord: the channel's settings, Integrations, Webhooks, Copy Webhook URL.", Secret: true}}},
		{Name: "email", Type: "email", Origin: string(accounts.OnServer), Editable: false, Connectable: true, TestSends: true,
			Display: "news@camaca.example via smtp.camaca.example",
			Fields:  []channels.ConnectField{{Name: "host", Label: "SMTP server", Help: "From your mail provider."}}},
	}, events: []AccountEvent{{At: day, Actor: "owner@example.org", Instance: "bluesky", Action: "connected", Detail: "as @camaca.bsky.example"}}}
}

// change changes the instances as the engine would between requests.
func (f *fakeAccounts) change(do func(insts []ChannelInstance)) {
	f.mu.Lock()
	do(f.insts)
	f.mu.Unlock()
}

func (f *fakeAccounts) record(line string) {
	f.mu.Lock()
	f.calls = append(f.calls, line)
	f.mu.Unlock()
}

func (f *fakeAccounts) called() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

func (f *fakeAccounts) Instances(ctx context.Context) ([]ChannelInstance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ChannelInstance(nil), f.insts...), nil
}

func (f *fakeAccounts) connected(instance, display, actor string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.insts {
		if f.insts[i].Name == instance {
			f.insts[i].Origin, f.insts[i].Display, f.insts[i].ConnectedBy = string(accounts.FromConsole), display, actor
			f.insts[i].RejectedAt = time.Time{}
		}
	}
}

func (f *fakeAccounts) Connect(ctx context.Context, actor, instance string, values map[string]string) (string, error) {
	f.record("connect " + instance + " " + actor)
	f.mu.Lock()
	f.values = values
	refuse := f.refuse
	f.mu.Unlock()
	if refuse != nil {
		return "", refuse
	}
	f.connected(instance, "@"+values["handle"], actor)
	return "@" + values["handle"], nil
}

func (f *fakeAccounts) StartOAuth(ctx context.Context, actor, instance string, values map[string]string, redirectURI string) (string, error) {
	f.record("start " + instance + " " + actor)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.values, f.redirect = values, redirectURI
	if f.refuse != nil {
		return "", f.refuse
	}
	return "https://" + values["server"] + "/oauth/authorize?client_id=c&state=s1&redirect_uri=" + url.QueryEscape(redirectURI), nil
}

func (f *fakeAccounts) FinishOAuth(ctx context.Context, actor, state, code string) (string, string, error) {
	f.record("finish " + state + " " + code + " " + actor)
	if state != "s1" {
		return "", "", &channels.ConnectError{Reason: "this authorisation is unknown or has expired"}
	}
	f.connected("mastodon", "@camaca@social.example", actor)
	return "mastodon", "@camaca@social.example", nil
}

func (f *fakeAccounts) Test(ctx context.Context, actor, instance, to string) (string, error) {
	f.record("test " + instance + " " + actor + " to=" + to)
	if to != "" {
		return "a test mail went to " + to, nil
	}
	return "", nil
}

func (f *fakeAccounts) Disconnect(ctx context.Context, actor, instance string) error {
	f.record("disconnect " + instance + " " + actor)
	return nil
}

func (f *fakeAccounts) Audit(ctx context.Context, limit int) ([]AccountEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AccountEvent(nil), f.events...), nil
}

// withAccounts gives the bundle's console the fake.
func (b *bundle) withAccounts() *fakeAccounts {
	f := newFakeAccounts()
	b.c.opts.Accounts = f
	return f
}

// section is the page's part for one instance.
func section(t *testing.T, body, instance string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `id="channel-`+instance+`"`)
	if !ok {
		t.Fatalf("no section for %s on the page:\n%s", instance, body)
	}
	end, _, _ := strings.Cut(rest, "</li>")
	return end
}

func TestChannelsPageSaysEachStateInWords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if p := b.browser(t).signedIn("owner@example.org").get("/channels"); p.status != http.StatusNotFound {
		t.Errorf("without accounts, /channels: %d, want 404", p.status)
	}
	b.withAccounts()
	owner := b.browser(t).signedIn("owner@example.org")
	p := owner.get("/channels")
	if p.status != http.StatusOK {
		t.Fatalf("owner /channels: %d %s", p.status, p.body)
	}
	for inst, wants := range map[string][]string{
		"mastodon": {"Not connected: posts are saved to the outbox on this machine, not sent.", "edit posts, withdraw posts, read reach, images with descriptions",
			"Your Mastodon server", "such as social.example", "Continue to the server", `type="text"`},
		"bluesky": {"Connected as @camaca.bsky.example since 20 Apr 2031 by owner@example.org.", `value="camaca.bsky.example"`,
			`type="password"`, "Set on Sun 20 Apr 2031 11:00 BST; it is never shown again. Leave it empty to keep it", "App passwords. Not your main password.",
			"Test the connection", "Disconnect…", "Change the connection"},
		"discord": {"Discord rejected the connection on 21 Apr 2031: Discord answered 401: the webhook was deleted.", "Connect it again below", "Connect again"},
		"email":   {"Configured on the server, as news@camaca.example via smtp.camaca.example.", "change the environment or config.yaml (channels.email)"},
	} {
		sec := section(t, p.body, inst)
		for _, want := range wants {
			if !strings.Contains(sec, want) {
				t.Errorf("%s's section lacks %q:\n%s", inst, want, sec)
			}
		}
	}
	if strings.Contains(p.body, fakeSecret) {
		t.Error("the page shows a stored secret")
	}
	if sec := section(t, p.body, "email"); strings.Contains(sec, "<button") || strings.Contains(sec, "<form") || strings.Contains(sec, "<input") {
		t.Errorf("an instance configured on the server offers buttons or a form:\n%s", sec)
	}
	// Every field's help is tied to its input, for screen readers.
	if !regexp.MustCompile(`id="ch-bluesky-app_password"[^>]*aria-describedby="ch-bluesky-app_password-help ch-bluesky-app_password-set"`).MatchString(p.body) {
		t.Error("the app password's help and 'set on' are not its description")
	}
	// A secret already set is kept when left empty; one never set is needed.
	if regexp.MustCompile(`id="ch-bluesky-app_password"[^>]* required`).MatchString(p.body) ||
		!regexp.MustCompile(`id="ch-discord-webhook"[^>]* required`).MatchString(p.body) {
		t.Error("a secret already set must be left empty to keep it; one never set is required")
	}
	if !strings.Contains(p.body, `autocomplete="new-password"`) {
		t.Error("a secret field lets the browser fill in the console password")
	}
	// The audit trail, and the navigation, for owners only.
	audit, _, _ := strings.Cut(p.body[strings.Index(p.body, `id="changes"`):], "</table>")
	for _, want := range []string{"owner@example.org", "bluesky", "connected: as @camaca.bsky.example", "Sun 20 Apr 2031 11:00 BST"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the changes list lacks %q:\n%s", want, audit)
		}
	}
	if !strings.Contains(p.body, `<a href="/channels" aria-current="page">Channels</a>`) {
		t.Error("the owner's navigation has no Channels link")
	}
	for _, who := range []string{"editor@example.org", "author@example.org"} {
		br := b.browser(t).signedIn(who)
		if p := br.get("/channels"); p.status != http.StatusForbidden || strings.Contains(p.body, "@camaca") {
			t.Errorf("%s: /channels %d", who, p.status)
		}
		if strings.Contains(br.get("/posts").body, `href="/channels"`) {
			t.Errorf("%s's navigation links to Channels", who)
		}
	}
}

func TestConnectFormShowsTheRefusedField(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withAccounts()
	owner := b.browser(t).signedIn("owner@example.org")
	refuse := func(err error) { f.mu.Lock(); f.refuse = err; f.mu.Unlock() }
	form := url.Values{"csrf": {owner.csrf()}, "handle": {"  camaca.bsky.example "}, "app_password": {"my-main-password"}}
	refuse(&channels.ConnectError{Field: "app_password", Reason: "This is the account's main password: make an app password instead."})
	p := owner.post("/channels/bluesky/connect", form)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a refused connection: %d", p.status)
	}
	sec := section(t, p.body, "bluesky")
	for _, want := range []string{
		`aria-invalid="true" aria-describedby="ch-bluesky-app_password-help ch-bluesky-app_password-set ch-bluesky-app_password-error"`,
		`<p class="error" id="ch-bluesky-app_password-error">This is the account&#39;s main password: make an app password instead.</p>`,
		`value="camaca.bsky.example"`, `<details class="connect" open>`} {
		if !strings.Contains(sec, want) {
			t.Errorf("the refused form lacks %q:\n%s", want, sec)
		}
	}
	if strings.Contains(p.body, "my-main-password") {
		t.Error("the refused form shows the password typed")
	}
	if got := f.values["handle"]; got != "camaca.bsky.example" {
		t.Errorf("the handle reached the engine as %q", got)
	}
	// A refusal about no one field is said at the top of the form.
	refuse(&channels.ConnectError{Reason: "bsky.example did not answer: check the handle's server."})
	sec = section(t, owner.post("/channels/bluesky/connect", form).body, "bluesky")
	if !strings.Contains(sec, `<p class="problem" role="alert">bsky.example did not answer`) || strings.Contains(sec, `aria-invalid`) {
		t.Errorf("a refusal of the whole form:\n%s", sec)
	}
	refuse(nil)
	form.Set("handle", "campaign.bsky.example")
	p = owner.post("/channels/bluesky/connect", form)
	if p.status != http.StatusSeeOther || p.loc != "/channels?done=connected&instance=bluesky#channel-bluesky" {
		t.Fatalf("connecting: %d %s", p.status, p.loc)
	}
	if page := owner.get(p.loc).body; !strings.Contains(page, `role="status">Connected bluesky as @campaign.bsky.example. Posts to bluesky are sent from now on`) {
		t.Errorf("after connecting the page says:\n%s", page)
	}
	if got := f.called(); got != "connect bluesky owner@example.org; connect bluesky owner@example.org; connect bluesky owner@example.org" {
		t.Errorf("the engine was asked: %s", got)
	}
}

// TestChannelChangesAreRefused: only an owner's form from the console
// reaches the engine, and never for an instance configured on the server.
func TestChannelChangesAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withAccounts()
	for _, who := range []string{"editor@example.org", "author@example.org"} {
		br := b.browser(t).signedIn(who)
		for _, action := range []string{"bluesky/connect", "bluesky/test", "bluesky/disconnect"} {
			if p := br.post("/channels/"+action, url.Values{"csrf": {br.csrf()}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
				t.Errorf("%s: %s %d, want 403", who, action, p.status)
			}
		}
	}
	owner := b.browser(t).signedIn("owner@example.org")
	for _, action := range []string{"bluesky/connect", "bluesky/test", "bluesky/disconnect"} {
		if p := owner.post("/channels/"+action, url.Values{"confirm": {"yes"}, "handle": {"x"}}); p.status != http.StatusForbidden {
			t.Errorf("without the CSRF token: %s %d, want 403", action, p.status)
		}
	}
	for _, action := range []string{"email/connect", "email/test", "email/disconnect"} {
		p := owner.post("/channels/"+action, url.Values{"csrf": {owner.csrf()}, "confirm": {"yes"}, "host": {"smtp.evil.example"}})
		if p.status != http.StatusConflict || !strings.Contains(p.body, "email is configured on the server (environment or config file), which wins over the console: change it there") {
			t.Errorf("an instance configured on the server: %s %d", action, p.status)
		}
	}
	if p := owner.post("/channels/nothing/connect", url.Values{"csrf": {owner.csrf()}}); p.status != http.StatusNotFound {
		t.Errorf("an unknown instance: %d", p.status)
	}
	if p := owner.get("/channels/bluesky/connect"); p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
		t.Errorf("GET of an action: %d", p.status)
	}
	if got := f.called(); got != "" {
		t.Errorf("refused requests reached the engine: %s", got)
	}
	// The engine's own refusal says the same (a config changed meanwhile).
	f.mu.Lock()
	f.refuse = accounts.ConfiguredOnServerError{Instance: "bluesky"}
	f.mu.Unlock()
	if p := owner.post("/channels/bluesky/connect", url.Values{"csrf": {owner.csrf()}, "handle": {"x"}}); p.status != http.StatusConflict ||
		!strings.Contains(p.body, "bluesky is configured on the server") {
		t.Errorf("the engine's refusal: %d", p.status)
	}
}

func TestMastodonConnectsThroughOAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withAccounts()
	owner := b.browser(t).signedIn("owner@example.org")
	p := owner.post("/channels/mastodon/connect", url.Values{"csrf": {owner.csrf()}, "server": {" social.example "}})
	// A page sends the owner on (a form's redirect elsewhere would break
	// CSP form-action 'self').
	if p.status != http.StatusOK || !strings.Contains(p.body, `<meta http-equiv="refresh" content="0; url=https://social.example/oauth/authorize?client_id=c&amp;state=s1&amp;redirect_uri=`) ||
		!strings.Contains(p.body, `<a href="https://social.example/oauth/authorize?client_id=c&amp;state=s1&amp;redirect_uri=`) || !strings.Contains(p.body, "Going to social.example to authorise Crier") {
		t.Fatalf("Connect on Mastodon: %d\n%s", p.status, p.body)
	}
	if want := b.srv.URL + "/channels/oauth/callback"; f.redirect != want || f.values["server"] != "social.example" {
		t.Errorf("StartOAuth got redirect %q, values %v; want %q", f.redirect, f.values, want)
	}
	back := "/channels/oauth/callback?state=s1&code=the-code"

	// Back from another site the Strict cookie is not sent: a page of
	// Crier's own opens the address again, from this site.
	stranger := b.browser(t)
	hop := stranger.get(back)
	if hop.status != http.StatusOK || !strings.Contains(hop.body, `<meta http-equiv="refresh" content="0; url=/channels/oauth/callback?code=the-code&amp;hop=1&amp;state=s1">`) {
		t.Fatalf("the callback without a cookie: %d\n%s", hop.status, hop.body)
	}
	if p := stranger.get("/channels/oauth/callback?code=the-code&hop=1&state=s1"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/login?next=") {
		t.Errorf("the callback's second hop signed out: %d %s", p.status, p.loc)
	}
	editor := b.browser(t).signedIn("editor@example.org")
	if p := editor.get(back); p.status != http.StatusForbidden {
		t.Errorf("an editor at the callback: %d", p.status)
	}
	if got := f.called(); got != "start mastodon owner@example.org" {
		t.Fatalf("before the owner's callback the engine was asked: %s", got)
	}
	p = owner.get("/channels/oauth/callback?state=s0&error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E")
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Crier was not authorised (the authorisation was declined). Nothing was connected") || strings.Contains(p.body, "<b>no") {
		t.Errorf("declined: %d", p.status)
	}
	p = owner.get("/channels/oauth/callback?error=%3Cscript%3E")
	if !strings.Contains(p.body, "The server did not authorise Crier. Nothing was connected") || strings.Contains(p.body, "script%3E") {
		t.Errorf("an error code that is no code is shown:\n%s", p.body)
	}
	if p := owner.get("/channels/oauth/callback?state=stale&code=x"); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "this authorisation is unknown or has expired") {
		t.Errorf("a state the engine does not know: %d", p.status)
	}
	p = owner.get(back)
	if p.status != http.StatusSeeOther || p.loc != "/channels?done=connected&instance=mastodon#channel-mastodon" {
		t.Fatalf("the owner's callback: %d %s", p.status, p.loc)
	}
	if page := owner.get(p.loc).body; !strings.Contains(section(t, page, "mastodon"), "Connected as @camaca@social.example") {
		t.Errorf("after the callback:\n%s", section(t, page, "mastodon"))
	}
	if got := f.called(); !strings.HasSuffix(got, "finish s0  owner@example.org; finish stale x owner@example.org; finish s1 the-code owner@example.org") {
		t.Errorf("the engine was asked: %s", got)
	}
	// Without a public address there is nowhere to come back to.
	b.c.opts.PublicURL = ""
	p = owner.post("/channels/mastodon/connect", url.Values{"csrf": {owner.csrf()}, "server": {"social.example"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(section(t, p.body, "mastodon"), "http.public_url") {
		t.Errorf("without public_url: %d", p.status)
	}
}

func TestTestMailGoesToTheOwnerOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withAccounts()
	f.change(func(i []ChannelInstance) { i[1].TestSends = true }) // bluesky plays the newsletter here
	owner := b.browser(t).signedIn("owner@example.org")
	if !strings.Contains(section(t, owner.get("/channels").body, "bluesky"), "Send a test mail to owner@example.org") {
		t.Fatal("no Send a test mail button")
	}
	p := owner.post("/channels/bluesky/test", url.Values{"csrf": {owner.csrf()}, "to": {"someone@elsewhere.example"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `role="status">Tested bluesky: a test mail went to owner@example.org.`) {
		t.Errorf("the test: %d", p.status)
	}
	f.change(func(i []ChannelInstance) { i[1].TestSends = false })
	owner.post("/channels/bluesky/test", url.Values{"csrf": {owner.csrf()}})
	if got := f.called(); got != "test bluesky owner@example.org to=owner@example.org; test bluesky owner@example.org to=" {
		t.Errorf("the engine was asked: %s", got)
	}
}

func TestDisconnectAsksFirstNamingTheAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.withAccounts()
	owner := b.browser(t).signedIn("owner@example.org")
	p := owner.post("/channels/bluesky/disconnect", url.Values{"csrf": {owner.csrf()}})
	for _, want := range []string{"Disconnect @camaca.bsky.example (bluesky)?", "saved to the outbox on this machine", "Yes, disconnect @camaca.bsky.example (bluesky)",
		`action="/channels/bluesky/disconnect"`, "Keep it connected"} {
		if !strings.Contains(strings.ReplaceAll(p.body, "&#43;", "+"), want) {
			t.Errorf("the question lacks %q", want)
		}
	}
	if got := f.called(); got != "" {
		t.Fatalf("asking reached the engine: %s", got)
	}
	p = owner.post("/channels/bluesky/disconnect", url.Values{"csrf": {owner.csrf()}, "confirm": {"yes"}})
	if p.status != http.StatusSeeOther || f.called() != "disconnect bluesky owner@example.org" {
		t.Fatalf("confirmed: %d, engine asked %s", p.status, f.called())
	}
}

// TestSetupLinksToChannels: the checklist sends the owner to Channels for
// a channel that is not connected, and one connected there is done.
func TestSetupLinksToChannels(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.c.opts.Outbox = map[string]string{"discord": "no Discord webhook connected", "mastodon": "no Mastodon account connected"}
	f := b.withAccounts()
	f.change(func(i []ChannelInstance) { i[2].RejectedAt = time.Time{} }) // discord: connected from the console since the start
	owner := b.browser(t).signedIn("owner@example.org")
	p := owner.get("/setup").body
	for _, want := range []string{`<a href="/channels#channel-mastodon">Connect mastodon on the Channels page</a>`, `on the <a href="/channels">Channels page</a>`} {
		if !strings.Contains(p, want) {
			t.Errorf("Setup lacks %q", want)
		}
	}
	if strings.Contains(p, "channel-discord") || strings.Contains(p, "then restart Crier") {
		t.Errorf("Setup still asks to connect discord, or to restart:\n%s", p)
	}
	// With every channel saving locally, the banner leads to Channels.
	f.change(func(i []ChannelInstance) { i[2].Origin = string(accounts.NotConnected) })
	if page := owner.get("/posts").body; !strings.Contains(page, `<a href="/channels">Connect them on the Channels page</a>`) {
		t.Errorf("the banner does not lead to Channels:\n%s", page)
	}
}
