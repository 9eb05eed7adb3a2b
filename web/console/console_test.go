package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// recordingPublisher stands in for the bot where a test only checks what
// the console asked for; the end-to-end test in cmd/crier runs the real one.
type recordingPublisher struct {
	mu        sync.Mutex
	st        *store.Store
	published []string
}

func (p *recordingPublisher) Publish(ctx context.Context, pp post.Post) ([]string, error) {
	if pp.Link == "https://camaca.example/already-out" {
		return nil, &bot.DuplicateError{PostID: pp.ID, Of: "feed:site:1"}
	}
	p.mu.Lock()
	p.published = append(p.published, pp.ID)
	p.mu.Unlock()
	return []string{"mastodon"}, p.st.SavePost(ctx, pp, store.PostPublished, time.Now())
}

func (p *recordingPublisher) Retry(ctx context.Context, id string, only []string) ([]string, error) {
	return only, nil
}
func (p *recordingPublisher) ChannelNames() []string { return []string{"discord", "mastodon"} }
func (p *recordingPublisher) NextDigest(now time.Time) (time.Time, bool) {
	return now.Add(48 * time.Hour), true
}

type bundle struct {
	srv   *httptest.Server
	c     *Console
	st    *store.Store
	users *Users
	pub   *recordingPublisher
	now   *clock
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupOn(t, "sqlite")
}

// setupOn is setup on the named database driver (a table of drivers, see
// internal/testpeers/postgres).
// supporters gives the console a supporters' store on the bundle's database.
func (b *bundle) supporters(t *testing.T) *subscribers.Store {
	t.Helper()
	subs, err := subscribers.Open(context.Background(), b.st.DB())
	if err != nil {
		t.Fatal(err)
	}
	b.c.opts.Subscribers = subs
	return subs
}

func setupOn(t *testing.T, driver string) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driver, postgres.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)}
	users, err := OpenUsers(ctx, st.DB(), UsersOptions{Now: clk.Now, Argon2: fastArgon2})
	if err != nil {
		t.Fatal(err)
	}
	camp := channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", Language: "en"}
	render := channelRender(t, camp, "  mastodon: {visibility: public, max_characters: 500}\n  discord: {}\n", mastodon.Provider{}, discord.Provider{})
	pub := &recordingPublisher{st: st}
	loc, _ := time.LoadLocation("Europe/London")
	c, err := New(Options{
		Users: users, Store: st, Publisher: pub, RequireApproval: true, DataDir: t.TempDir(), Location: loc,
		Campaign: "CAMACA", Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Render: render,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	c.opts.PublicURL = srv.URL
	for _, u := range []struct {
		email string
		role  Role
	}{{"owner@example.org", RoleOwner}, {"editor@example.org", RoleEditor}, {"author@example.org", RoleAuthor}} {
		if _, err := users.Add(ctx, u.email, u.role, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	return &bundle{srv: srv, c: c, st: st, users: users, pub: pub, now: clk}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func (b *bundle) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: b.srv.URL, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	body   string
	header http.Header
	loc    string
}

func (br *browser) get(path string) page {
	br.t.Helper()
	resp, err := br.client.Get(br.base + path)
	if err != nil {
		br.t.Fatal(err)
	}
	return readPage(br.t, resp)
}

func (br *browser) post(path string, form url.Values) page {
	br.t.Helper()
	resp, err := br.client.PostForm(br.base+path, form)
	if err != nil {
		br.t.Fatal(err)
	}
	return readPage(br.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(b), header: resp.Header, loc: resp.Header.Get("Location")}
}

var (
	csrfRe  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	loginRe = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
)

func (br *browser) csrf() string {
	br.t.Helper()
	m := csrfRe.FindStringSubmatch(br.get("/posts").body)
	if m == nil {
		br.t.Fatal("no CSRF token on /posts")
	}
	return m[1]
}

func (br *browser) login(email, password string) page {
	br.t.Helper()
	m := loginRe.FindStringSubmatch(br.get("/login").body)
	if m == nil {
		br.t.Fatal("no login token on /login")
	}
	return br.post("/login", url.Values{"login_token": {m[1]}, "email": {email}, "password": {password}})
}

func (br *browser) signedIn(email string) *browser {
	if p := br.login(email, "correct horse battery"); p.status != http.StatusSeeOther {
		br.t.Fatalf("signing in %s: %d %s", email, p.status, p.body)
	}
	return br
}

func (br *browser) cookie(name string) string {
	u, _ := url.Parse(br.base)
	for _, c := range br.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var revisionRe = regexp.MustCompile(`name="revision" value="([^"]*)"`)

// revision is the version of post id its page shows the editor: what
// Approve, Schedule and Publish carry.
func (br *browser) revision(id string) string {
	br.t.Helper()
	m := revisionRe.FindStringSubmatch(br.get("/posts/" + id).body)
	if m == nil {
		br.t.Fatalf("the page of %s carries no revision", id)
	}
	return m[1]
}

// newPost writes a post through the form and returns its id.
func (br *browser) newPost(form url.Values) string {
	br.t.Helper()
	form.Set("csrf", br.csrf())
	p := br.post("/posts", form)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/posts/console:") {
		br.t.Fatalf("creating a post: %d %s %s", p.status, p.loc, p.body)
	}
	return postIDOf(p.loc)
}

// postIDOf is the post id in a redirect to its page (which may carry a
// ?done notice).
func postIDOf(loc string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/posts/"), "?")
	return id
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	if p := br.get("/posts"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.loc, "/login") {
		t.Fatalf("signed out, /posts: %d %s", p.status, p.loc)
	}
	p := br.get("/login")
	for _, label := range []string{`<label for="email">Email</label>`, `<label for="password">Password</label>`, `>Sign in</button>`} {
		if !strings.Contains(p.body, label) {
			t.Errorf("sign-in page lacks %s", label)
		}
	}
	br.signedIn("editor@example.org")
	if p := br.get("/posts"); p.status != 200 || !strings.Contains(p.body, "editor@example.org") {
		t.Fatalf("signed in, /posts: %d", p.status)
	}
	id := br.cookie(sessionCookie)
	// Sign-out ends the session on the server: the old cookie is refused.
	if p := br.post("/logout", url.Values{"csrf": {br.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}
	if _, err := b.users.Session(context.Background(), id); err != ErrNoUser {
		t.Fatalf("session after sign-out: %v", err)
	}
	replay := b.browser(t)
	u, _ := url.Parse(b.srv.URL)
	replay.client.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: id}})
	if p := replay.get("/posts"); p.status != http.StatusSeeOther {
		t.Fatalf("the signed-out session id still works: %d", p.status)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	m := loginRe.FindStringSubmatch(br.get("/login").body)
	b.c.opts.PublicURL = "https://crier.camaca.example"
	resp, err := br.client.PostForm(b.srv.URL+"/login", url.Values{"login_token": {m[1]}, "email": {"author@example.org"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			found = true
			if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie flags: %+v", ck)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie")
	}
}

func TestSessionIDNotReusedAfterSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	// An attacker plants a session id of their own before the victim signs in.
	planted, _, err := b.users.NewSession(context.Background(), User{ID: 3, Email: "author@example.org", Role: RoleAuthor})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(b.srv.URL)
	br.client.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted}})
	br.signedIn("editor@example.org")
	if got := br.cookie(sessionCookie); got == planted || got == "" {
		t.Fatalf("session id after sign-in %q (planted %q)", got, planted)
	}
	if _, err := b.users.Session(context.Background(), planted); err != ErrNoUser {
		t.Fatalf("the id from before sign-in still works: %v", err)
	}
}

func TestSignInSameAnswerAndThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wrong := b.browser(t).login("editor@example.org", "not the password!")
	unknown := b.browser(t).login("nobody@example.org", "not the password!")
	strip := func(s string) string {
		return loginRe.ReplaceAllString(strings.ReplaceAll(s, "nobody@example.org", "X"), "")
	}
	if wrong.status != http.StatusUnauthorized || unknown.status != wrong.status ||
		strip(wrong.body) != strip(strings.ReplaceAll(unknown.body, "nobody@example.org", "editor@example.org")) && !strings.Contains(unknown.body, "Wrong email or password.") {
		t.Fatalf("wrong password %d, unknown address %d", wrong.status, unknown.status)
	}
	if !strings.Contains(wrong.body, "Wrong email or password.") || !strings.Contains(unknown.body, "Wrong email or password.") {
		t.Fatal("the answers differ")
	}
	br := b.browser(t)
	for i := 0; i < maxPairFailures; i++ {
		br.login("author@example.org", "guess number one")
	}
	// Per account and client: the right password is refused once the limit is hit.
	if p := br.login("author@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures the right password got %d", maxPairFailures, p.status)
	}
	if p := b.browser(t).login("author@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("throttle is per account and client, from another browser at that address too: %d", p.status)
	}
	b.now.Add(throttleWindow)
	if p := br.login("author@example.org", "correct horse battery"); p.status != http.StatusSeeOther {
		t.Fatalf("after the window: %d", p.status)
	}
	// Per client: many accounts from one address.
	for i := 0; i < maxClientFailures; i++ {
		br.login("someone"+itoa(i)+"@example.org", "guess number one")
	}
	if p := b.browser(t).login("owner@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("after %d failures from one client: %d", maxClientFailures, p.status)
	}
}

func TestCSRFRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t).signedIn("editor@example.org")
	for _, path := range []string{"/posts", "/logout", "/preview", "/supporters/remove"} {
		if p := br.post(path, url.Values{"title": {"x"}, "action": {"save"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: %d", path, p.status)
		}
		if p := br.post(path, url.Values{"title": {"x"}, "csrf": {"forged"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s with a wrong CSRF token: %d", path, p.status)
		}
	}
	// The sign-in form has its own token.
	if p := b.browser(t).post("/login", url.Values{"email": {"editor@example.org"}, "password": {"correct horse battery"}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without its token: %d", p.status)
	}
}

func TestAuthorCannotApproveOrPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	author := b.browser(t).signedIn("author@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"Join us."}, "action": {"submit"}})
	tok := author.csrf()
	for _, path := range []string{"/approve", "/publish", "/schedule", "/cancel", "/retry"} {
		if p := author.post("/posts/"+id+path, url.Values{"csrf": {tok}, "schedule_for": {"2031-06-01T09:00"}}); p.status != http.StatusForbidden {
			t.Errorf("author POST %s: %d", path, p.status)
		}
	}
	if p := author.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"Vigil"}, "action": {"publish"}}); p.status != http.StatusForbidden {
		t.Errorf("author saving with Publish now: %d", p.status)
	}
	for _, path := range []string{"/users", "/supporters"} {
		if p := author.get(path); p.status != http.StatusForbidden {
			t.Errorf("author GET %s: %d", path, p.status)
		}
	}
	if len(b.pub.published) != 0 {
		t.Fatalf("published: %v", b.pub.published)
	}
}

func TestApprovalFlowAndHistory(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testApprovalFlowAndHistory(t, driver) })
}

func testApprovalFlowAndHistory(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := author.newPost(url.Values{"title": {"Vigil on Friday"}, "body": {"Join us at 6pm."}, "link": {"https://camaca.example/vigil"}, "action": {"save"}})
	tok := author.csrf()
	if p := author.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"Vigil on Friday"}, "body": {"Join us at 6pm."}, "action": {"submit"}}); p.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %s", p.status, p.body)
	}
	etok := editor.csrf()
	// require_approval: the editor can't send an author's post unapproved.
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "approve") {
		t.Fatalf("publish before approval: %d", p.status)
	}
	if p := editor.get("/posts/" + id); !strings.Contains(p.body, ">Approve</button>") {
		t.Fatal("the post page offers no Approve button to the editor")
	}
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", p.status, p.body)
	}
	// 2031-05-01 09:00 UTC is 10:00 in London (BST): schedule for 10:02 there.
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-01T10:02"}}); p.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d %s", p.status, p.body)
	}
	sp, err := b.st.Post(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sp.State != store.PostScheduled || !sp.Post.PublishAt.Equal(time.Date(2031, 5, 1, 9, 2, 0, 0, time.UTC)) || sp.Post.Draft {
		t.Fatalf("scheduled post: %s %s draft=%v", sp.State, sp.Post.PublishAt, sp.Post.Draft)
	}
	// A time in the past is refused with the reason.
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}, "schedule_for": {"2031-05-01T09:30"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "in the past") {
		t.Fatalf("schedule in the past: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/cancel", url.Values{"csrf": {etok}, "confirm": {"yes"}}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {etok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("publish now: %d %s", p.status, p.body)
	}
	if len(b.pub.published) != 1 || b.pub.published[0] != id {
		t.Fatalf("published %v", b.pub.published)
	}
	page := editor.get("/posts/" + id)
	for _, want := range []string{"author@example.org: created", "author@example.org: submitted for review", "editor@example.org: approved",
		"editor@example.org: scheduled (for Thu 1 May 2031 10:02 BST)", "editor@example.org: unscheduled", "editor@example.org: published"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	// A published post can no longer be edited.
	if p := author.post("/posts/"+id, url.Values{"csrf": {tok}, "title": {"changed"}, "action": {"save"}}); p.status != http.StatusForbidden {
		t.Fatalf("editing a published post: %d", p.status)
	}
}

func TestEditorsOwnPostNeedsNoApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	id := editor.newPost(url.Values{"title": {"Editor's news"}, "action": {"save"}})
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("publish: %d %s", p.status, p.body)
	}
}

// hostile is content that would run script if any page let it through.
var hostile = url.Values{
	"title":           {`<script>alert("title")</script>`},
	"body":            {"Read [this](javascript:alert(1)) <img src=x onerror=alert(2)> <script>alert(3)</script>"},
	"summary":         {`"><svg onload=alert(4)>`},
	"link":            {"https://camaca.example/x"},
	"tags":            {`<b onmouseover=alert(5)>`},
	"content_warning": {`<iframe src="javascript:alert(6)">`},
}

// activeMarkup parses a page and returns the first thing in it that would
// run script: a script element other than the console's own file, an event
// attribute, or a javascript: URL.
func activeMarkup(t *testing.T, body string) string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var found string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if found != "" {
			return
		}
		if n.Type == html.ElementNode {
			if n.Data == "script" {
				src := ""
				for _, a := range n.Attr {
					if a.Key == "src" {
						src = a.Val
					}
				}
				if src != "/static/console.js" && src != "/static/editing.js" { // the console's own static scripts
					found = "script element " + src
				}
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					found = "<" + n.Data + " " + a.Key + "=" + a.Val
				case (a.Key == "href" || a.Key == "src" || a.Key == "action" || a.Key == "formaction") && strings.HasPrefix(strings.ReplaceAll(v, "\t", ""), "javascript:"):
					found = "<" + n.Data + " " + a.Key + "=" + a.Val
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

func TestHostileContentIsInert(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	form := url.Values{"action": {"save"}}
	for k, v := range hostile {
		form[k] = v
	}
	form.Set("text_discord", `<script>alert(7)</script>`)
	id := editor.newPost(form)
	// A feed item with the same content, as a feed would leave it.
	feedPost := post.Post{ID: "feed:site:1", Title: hostile.Get("title"), Body: hostile.Get("body"), Link: "javascript:alert(8)",
		Image: &post.Image{URL: "javascript:alert(9)", Alt: `" onerror="alert(10)`}, PublishAt: b.now.Now(),
		Source: post.Source{Kind: "feed", Name: "site", Ref: "javascript:alert(11)"}}
	if err := b.st.SavePost(context.Background(), feedPost, store.PostScheduled, b.now.Now()); err != nil {
		t.Fatal(err)
	}
	tok := editor.csrf()
	pages := map[string]page{}
	for _, path := range []string{"/posts", "/posts/" + id, "/posts/" + id + "/edit", "/posts/feed:site:1", "/calendar", "/calendar?view=week&date=2031-05-01"} {
		pages[path] = editor.get(path)
	}
	pages["POST /preview"] = editor.post("/preview", func() url.Values {
		f := url.Values{"csrf": {tok}}
		for k, v := range form {
			f[k] = v
		}
		return f
	}())
	for path, p := range pages {
		if p.status != http.StatusOK {
			t.Errorf("%s: %d", path, p.status)
			continue
		}
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if m := activeMarkup(t, p.body); m != "" {
			t.Errorf("%s: active markup %q", path, m)
		}
		if !strings.Contains(p.body, "&lt;script&gt;alert(") {
			t.Errorf("%s: the hostile title is not shown escaped", path)
		}
	}
	// The newsletter frame has a sandboxing policy of its own.
	keys := regexp.MustCompile(`/preview/email/([A-Za-z0-9_-]+)`).FindAllStringSubmatch(pages["/posts/"+id].body, -1)
	for _, k := range keys {
		p := editor.get("/preview/email/" + k[1])
		if csp := p.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none';") || strings.Contains(csp, "script-src") {
			t.Errorf("newsletter frame CSP %q", p.header.Get("Content-Security-Policy"))
		}
	}
}

func TestPreviewUsesDeliveryFormatters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	long := strings.Repeat("Every child deserves safety. ", 40)
	req, _ := http.NewRequest("POST", b.srv.URL+"/preview", strings.NewReader(url.Values{
		"csrf": {editor.csrf()}, "title": {"Rising again"}, "body": {long}, "link": {"https://camaca.example/r"},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Crier-Fragment", "1")
	resp, err := editor.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p := readPage(t, resp)
	if p.status != 200 || strings.Contains(p.body, "<html") {
		t.Fatalf("fragment: %d", p.status)
	}
	masto := mastodon.NewFormatter(mastodon.Config{Enabled: true, Visibility: "public", MaxCharacters: 500}, channels.Campaign{Name: "CAMACA", Language: "en"})
	pl, err := masto.Format(post.Post{Title: "Rising again", Body: long, Link: "https://camaca.example/r"})
	if err != nil {
		t.Fatal(err)
	}
	st := pl.Body.(mastodon.Statuses)[0]
	n := mastodon.Counter{URLLength: 23}.Count(st.SpoilerText, st.Status)
	if !strings.Contains(p.body, itoa(n)+" / 500") {
		t.Fatalf("the toot card does not count %d / 500", n)
	}
	firstLine := strings.SplitN(st.Status, "\n", 2)[0]
	if !strings.Contains(p.body, firstLine) {
		t.Fatalf("the toot card does not show the formatter's text %q", firstLine)
	}
	if !strings.Contains(p.body, "class=\"embed\"") || !strings.Contains(p.body, "Rising again") {
		t.Fatal("no Discord embed")
	}
}

func TestUploadChecksTypeAndSize(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	tok := editor.csrf()
	send := func(name string, data []byte) page {
		body, ctype := multipartForm(t, map[string]string{"csrf": tok, "title": "Pic", "alt": "A march", "action": "save"}, "image", name, data)
		req, _ := http.NewRequest("POST", b.srv.URL+"/posts", body)
		req.Header.Set("Content-Type", ctype)
		resp, err := editor.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return readPage(t, resp)
	}
	if p := send("evil.png", []byte("<html><script>alert(1)</script>")); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "PNG, JPEG, GIF or WebP") {
		t.Fatalf("HTML as an image: %d", p.status)
	}
	if p := send("big.png", append(pngHeader(), make([]byte, maxImage)...)); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "larger than") {
		t.Fatalf("oversized image: %d", p.status)
	}
	p := send("ok.png", pngHeader())
	if p.status != http.StatusSeeOther {
		t.Fatalf("good image: %d %s", p.status, p.body)
	}
	sp, _ := b.st.Post(context.Background(), postIDOf(p.loc))
	if sp.Post.Image == nil || sp.Post.Image.Alt != "A march" || !strings.HasPrefix(sp.Post.Image.URL, "/media/") {
		t.Fatalf("stored image %+v", sp.Post.Image)
	}
	img := editor.get(sp.Post.Image.URL)
	if img.status != 200 || img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("serving the image: %d %s", img.status, img.header.Get("Content-Type"))
	}
}

func TestPasswordHashParameters(t *testing.T) {
	t.Parallel()
	// Tests hash with lowered parameters; production's must stay above
	// OWASP's argon2id minimum (19 MiB, 2 passes), and a store opened
	// without options uses them.
	if DefaultArgon2.MemoryKiB < 19*1024 || DefaultArgon2.Time < 2 {
		t.Fatalf("argon2id parameters %+v are below OWASP's minimum", DefaultArgon2)
	}
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, "sqlite", postgres.Target(t, "sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	users, err := OpenUsers(ctx, st.DB(), UsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := users.hashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=1$") || !verifyPassword(h, "correct horse battery") || verifyPassword(h, "correct horse batterx") {
		t.Fatalf("hash %q", h)
	}
	if err := CheckPassword("short"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
}

// Every state filter finds exactly the posts whose shown state it names.
func TestPostsListFiltersAgreeWithShownState(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testPostsListFiltersAgreeWithShownState(t, driver) })
}

func testPostsListFiltersAgreeWithShownState(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	editor := b.browser(t).signedIn("editor@example.org")
	author := b.browser(t).signedIn("author@example.org")
	draft := author.newPost(url.Values{"title": {"A draft"}, "action": {"save"}})
	review := author.newPost(url.Values{"title": {"In review"}, "action": {"submit"}})
	approved := author.newPost(url.Values{"title": {"Approved"}, "action": {"submit"}})
	editor.post("/posts/"+approved+"/approve", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(approved)}})
	now := b.now.Now()
	mk := func(id string, state store.PostState, dels map[string]store.DeliveryState) {
		p := post.Post{ID: id, Title: id, PublishAt: now, Source: post.Source{Kind: "markdown", Name: "posts", Key: id}}
		if err := b.st.SavePost(ctx, p, state, now); err != nil {
			t.Fatal(err)
		}
		for ch, st := range dels {
			if _, err := b.st.DB().ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`, id, ch, string(st), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("md:scheduled", store.PostScheduled, nil)
	mk("md:sent", store.PostPublished, map[string]store.DeliveryState{"mastodon": store.DeliverySent, "discord": store.DeliverySent})
	mk("md:sending", store.PostPublished, map[string]store.DeliveryState{"mastodon": store.DeliverySent, "discord": store.DeliveryPending})
	mk("md:failed", store.PostPublished, map[string]store.DeliveryState{"mastodon": store.DeliveryFailed, "discord": store.DeliveryPending})
	want := map[string]string{"draft": draft, "review": review, "approved": approved, "scheduled": "md:scheduled",
		"sent": "md:sent", "sending": "md:sending", "failed": "md:failed"}
	for state, id := range want {
		rows, _, err := b.c.listPosts(ctx, state, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].ID != id || string(rows[0].State) != state {
			t.Errorf("filter %s: %+v, want only %s", state, rows, id)
		}
	}
	all, _, _ := b.c.listPosts(ctx, "", "", 1)
	if len(all) != 7 {
		t.Errorf("unfiltered list has %d posts, want 7", len(all))
	}
	if rows, _, _ := b.c.listPosts(ctx, "", "console", 1); len(rows) != 3 {
		t.Errorf("console source: %d posts, want 3", len(rows))
	}
}
