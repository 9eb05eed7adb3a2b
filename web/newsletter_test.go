package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
)

// recordingMailer is the Mailer of these tests: it records each confirmation
// mail instead of sending it.
type recordingMailer struct {
	mu   sync.Mutex
	sent []sentMail
	fail error
}

type sentMail struct {
	Sub subscribers.Subscriber
	URL string
}

func (m *recordingMailer) SendConfirmation(ctx context.Context, sub subscribers.Subscriber, confirmURL string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, sentMail{sub, confirmURL})
	return nil
}

func (m *recordingMailer) all() []sentMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sentMail(nil), m.sent...)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	h      http.Handler
	nl     *newsletter
	db     *store.Store
	store  *subscribers.Store
	signer *subscribers.Signer
	mailer *recordingMailer
	clock  *clock
}

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

const adminToken = "admin-token-for-tests-0123456789abcdef"

func newFixture(t testing.TB, publicURL string) *fixture {
	t.Helper()
	return newFixtureWith(t, publicURL, nil)
}

// newFixtureWith mounts the pages with mailer (which may need the fixture's
// store and signer, hence the func), or the recording one when it is nil.
func newFixtureWith(t testing.TB, publicURL string, mailer func(*fixture) subscribers.Mailer) *fixture {
	t.Helper()
	return newFixtureOpts(t, publicURL, mailer, nil)
}

// newFixtureOpts is newFixtureWith with a chance to change the options.
func newFixtureOpts(t testing.TB, publicURL string, mailer func(*fixture) subscribers.Mailer, opt func(*NewsletterOptions)) *fixture {
	t.Helper()
	return newFixtureOn(t, "sqlite", publicURL, mailer, opt)
}

// newFixtureOn is newFixtureOpts on a fresh database of driver.
func newFixtureOn(t testing.TB, driver, publicURL string, mailer func(*fixture) subscribers.Mailer, opt func(*NewsletterOptions)) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driver, pgpeer.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	subs.WithClock(clk.Now)
	f := &fixture{db: st, store: subs, signer: subscribers.NewSigner([]byte("test key, 32 bytes long, really")), mailer: &recordingMailer{}, clock: clk}
	// The limits live in the database, as in the daemon.
	if err := PrepareShared(ctx, st.DB()); err != nil {
		t.Fatal(err)
	}
	srv := New(Options{AdminToken: adminToken, Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), Shared: st.DB()})
	var m subscribers.Mailer = f.mailer
	if mailer != nil {
		m = mailer(f)
	}
	opts := NewsletterOptions{Store: subs, Signer: f.signer, Mailer: m, PublicURL: publicURL,
		Campaign: channels.Campaign{Name: "CAMACA", Website: "https://camaca.example.org", Language: "en"},
		Logger:   slog.New(slog.DiscardHandler), Now: clk.Now}
	if opt != nil {
		opt(&opts)
	}
	f.nl, err = mountNewsletter(srv, opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = srv.Handler()
	return f
}

// do serves one request from ip and returns the response once any
// confirmation mail it queued has been handed to the mailer.
func (f *fixture) do(req *http.Request, ip string) *http.Response {
	req.RemoteAddr = net.JoinHostPort(ip, "40000")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if f.nl.mem != nil {
		f.nl.mem.inflight.Wait()
	}
	return rec.Result()
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// session fetches the form and returns its CSRF cookie and field.
func (f *fixture) session(t testing.TB) (*http.Cookie, string) {
	t.Helper()
	res := f.do(httptest.NewRequest("GET", "/subscribe", nil), "192.0.2.1")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /subscribe: %d", res.StatusCode)
	}
	m := csrfRE.FindSubmatch(body)
	if m == nil || len(res.Cookies()) != 1 {
		t.Fatalf("no CSRF token or cookie in the form:\n%s", body)
	}
	return res.Cookies()[0], string(m[1])
}

func postForm(path string, v url.Values, c *http.Cookie) *http.Request {
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c != nil {
		req.AddCookie(c)
	}
	return req
}

func (f *fixture) subscribe(t *testing.T, email, name, ip string) (*http.Response, string) {
	t.Helper()
	c, csrf := f.session(t)
	res := f.do(postForm("/subscribe", url.Values{"email": {email}, "name": {name}, "consent": {"yes"}, "csrf": {csrf}}, c), ip)
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func tokenOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

func (f *fixture) status(t *testing.T, email string) subscribers.Status {
	t.Helper()
	sub, err := f.store.GetByEmail(context.Background(), email)
	if err != nil {
		return ""
	}
	return sub.Status
}

func TestSubscribeConfirmUnsubscribe(t *testing.T) {
	pgpeer.EachDriver(t, testSubscribeConfirmUnsubscribe)
}

func testSubscribeConfirmUnsubscribe(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "https://news.camaca.example.org/", nil, nil)
	res, body := f.subscribe(t, " Ann@Example.org ", "Ann Lee", "192.0.2.7")
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") {
		t.Fatalf("subscribe: %d\n%s", res.StatusCode, body)
	}
	sub, err := f.store.GetByEmail(context.Background(), "ann@example.org")
	if err != nil || sub.Status != subscribers.Unconfirmed || sub.ConsentSource != "form:/subscribe" || sub.ConsentIP != "192.0.2.7" || !sub.ConsentAt.Equal(f.clock.Now()) || sub.Name != "Ann Lee" {
		t.Fatalf("stored %+v, %v", sub, err)
	}
	mails := f.mailer.all()
	if len(mails) != 1 || !strings.HasPrefix(mails[0].URL, "https://news.camaca.example.org/confirm?t=") || mails[0].Sub.ID != sub.ID {
		t.Fatalf("confirmation mails %+v", mails)
	}
	confirmPath := strings.TrimPrefix(mails[0].URL, "https://news.camaca.example.org")

	// A GET (a mail scanner prefetching the link) changes nothing.
	res = f.do(httptest.NewRequest("GET", confirmPath, nil), "198.51.100.1")
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), "Confirm my subscription") || !strings.Contains(string(page), "an***@example.org") {
		t.Fatalf("confirm page %d\n%s", res.StatusCode, page)
	}
	if st := f.status(t, "ann@example.org"); st != subscribers.Unconfirmed {
		t.Fatalf("GET /confirm changed the status to %s", st)
	}
	for h, want := range map[string]string{"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	res = f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[0].URL)}}, nil), "192.0.2.7")
	page, _ = io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), "You are subscribed") {
		t.Fatalf("POST /confirm: %d\n%s", res.StatusCode, page)
	}
	if st := f.status(t, "ann@example.org"); st != subscribers.Confirmed {
		t.Fatalf("after confirm: %s", st)
	}

	// Subscribing again when confirmed: the same page, no new mail.
	_, again := f.subscribe(t, "ann@example.org", "Ann", "192.0.2.7")
	if again != body || len(f.mailer.all()) != 1 {
		t.Fatalf("repeat for a confirmed address differed or sent mail (%d mails)", len(f.mailer.all()))
	}

	// RFC 8058 one-click: a POST with List-Unsubscribe=One-Click to the
	// List-Unsubscribe URL, no cookie, no CSRF.
	unsub := f.signer.UnsubscribeURL("https://news.camaca.example.org", sub)
	req := httptest.NewRequest("POST", strings.TrimPrefix(unsub, "https://news.camaca.example.org"), strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res = f.do(req, "203.0.113.9")
	if res.StatusCode != 200 {
		t.Fatalf("one-click: %d", res.StatusCode)
	}
	if st := f.status(t, "ann@example.org"); st != subscribers.Unsubscribed {
		t.Fatalf("after one-click: %s", st)
	}

	// The old confirmation link does not undo the unsubscribe.
	res = f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[0].URL)}}, nil), "192.0.2.7")
	if res.StatusCode != 400 || f.status(t, "ann@example.org") != subscribers.Unsubscribed {
		t.Fatalf("old confirm link after unsubscribe: %d, %s", res.StatusCode, f.status(t, "ann@example.org"))
	}

	// Subscribing again through the form sends a fresh confirmation, but
	// until it is confirmed they stay unsubscribed and their record stays.
	before, _ := f.store.GetByEmail(context.Background(), "ann@example.org")
	f.clock.Advance(time.Hour)
	f.subscribe(t, "ann@example.org", "Ann B", "192.0.2.8")
	mails = f.mailer.all()
	after, _ := f.store.GetByEmail(context.Background(), "ann@example.org")
	if after.Status != subscribers.Unsubscribed || len(mails) != 2 || !reflect.DeepEqual(after, before) {
		t.Fatalf("re-subscribe before confirming: %+v with %d mails (was %+v)", after, len(mails), before)
	}
	if mails[1].Sub.Name != "Ann B" {
		t.Fatalf("the mail greets %q, want the name typed now", mails[1].Sub.Name)
	}
	// The old link still does not work; the new one does, and only now
	// does the new consent replace the record, the old one kept as history.
	if res := f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[0].URL)}}, nil), "192.0.2.8"); res.StatusCode != 400 {
		t.Fatalf("old confirm link with a request pending: %d", res.StatusCode)
	}
	f.clock.Advance(time.Minute)
	if res := f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[1].URL)}}, nil), "192.0.2.9"); res.StatusCode != 200 {
		t.Fatalf("new confirm link: %d", res.StatusCode)
	}
	after, _ = f.store.GetByEmail(context.Background(), "ann@example.org")
	if after.Status != subscribers.Confirmed || after.ConsentIP != "192.0.2.8" || after.Name != "Ann B" || !after.ConsentAt.Equal(f.clock.Now().Add(-time.Minute)) {
		t.Fatalf("after confirming again: %+v", after)
	}
	hist, err := f.store.History(context.Background(), after.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist {
		got = append(got, e.Event+" "+e.Source+" "+e.IP)
	}
	want := []string{"consent form:/subscribe 192.0.2.7", "confirmed confirmation link 192.0.2.7", "unsubscribed one-click ",
		"consent form:/subscribe 192.0.2.8", "confirmed confirmation link 192.0.2.9"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("history\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOneClickMultipartAndPageForm(t *testing.T) {
	pgpeer.EachDriver(t, testOneClickMultipartAndPageForm)
}

func testOneClickMultipartAndPageForm(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	ctx := context.Background()
	a, _ := f.store.Add(ctx, subscribers.Subscriber{Email: "a@example.org", Status: subscribers.Confirmed})
	b, _ := f.store.Add(ctx, subscribers.Subscriber{Email: "b@example.org", Status: subscribers.Confirmed})

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	req := httptest.NewRequest("POST", "/unsubscribe?t="+url.QueryEscape(f.signer.Token(subscribers.PurposeUnsubscribe, a, time.Time{})), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res := f.do(req, "192.0.2.1"); res.StatusCode != 200 || f.status(t, "a@example.org") != subscribers.Unsubscribed {
		t.Fatalf("multipart one-click: %d, %s", res.StatusCode, f.status(t, "a@example.org"))
	}

	// The unsubscribe page shows a button; its form posts the token.
	tok := f.signer.Token(subscribers.PurposeUnsubscribe, b, time.Time{})
	res := f.do(httptest.NewRequest("GET", "/unsubscribe?t="+url.QueryEscape(tok), nil), "192.0.2.1")
	page, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(page), `action="unsubscribe"`) || f.status(t, "b@example.org") != subscribers.Confirmed {
		t.Fatalf("unsubscribe page %d, status %s", res.StatusCode, f.status(t, "b@example.org"))
	}
	if res := f.do(postForm("/unsubscribe", url.Values{"t": {tok}}, nil), "192.0.2.1"); res.StatusCode != 200 || f.status(t, "b@example.org") != subscribers.Unsubscribed {
		t.Fatalf("page form unsubscribe: %d", res.StatusCode)
	}
}

func TestBadTokensRevealNothing(t *testing.T) { pgpeer.EachDriver(t, testBadTokensRevealNothing) }

func testBadTokensRevealNothing(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	ctx := context.Background()
	ann, _ := f.store.Add(ctx, subscribers.Subscriber{Email: "ann@example.org", Status: subscribers.Confirmed})
	bob, _ := f.store.Add(ctx, subscribers.Subscriber{Email: "bob@example.org"})
	good := f.signer.Token(subscribers.PurposeUnsubscribe, ann, time.Time{})
	forger := subscribers.NewSigner([]byte("a guess at the key, also 32 byte"))
	expired := f.signer.Token(subscribers.PurposeConfirm, bob, f.clock.Now().Add(-time.Second))
	gone := subscribers.Subscriber{ID: 999, Email: "ghost@example.org"}

	var first []byte
	for name, tc := range map[string]struct{ path, token string }{
		"forged":                 {"/unsubscribe", forger.Token(subscribers.PurposeUnsubscribe, ann, time.Time{})},
		"altered id":             {"/unsubscribe", strings.Replace(good, "u.1.", "u.2.", 1)},
		"confirm token to unsub": {"/unsubscribe", f.signer.Token(subscribers.PurposeConfirm, ann, f.clock.Now().Add(time.Hour))},
		"expired confirm":        {"/confirm", expired},
		"unknown subscriber":     {"/unsubscribe", f.signer.Token(subscribers.PurposeUnsubscribe, gone, time.Time{})},
		"empty":                  {"/confirm", ""},
		"garbage":                {"/confirm", "<script>alert(1)</script>"},
	} {
		for _, method := range []string{"GET", "POST"} {
			var req *http.Request
			if method == "GET" {
				req = httptest.NewRequest("GET", tc.path+"?t="+url.QueryEscape(tc.token), nil)
			} else {
				req = postForm(tc.path, url.Values{"t": {tc.token}, "List-Unsubscribe": {"One-Click"}}, nil)
			}
			res := f.do(req, "192.0.2.1")
			page, _ := io.ReadAll(res.Body)
			if res.StatusCode != 400 {
				t.Errorf("%s %s: %d, want 400", method, name, res.StatusCode)
			}
			if first == nil {
				first = page
			} else if !bytes.Equal(page, first) {
				t.Errorf("%s %s: the refusal differs from the others, so it reveals something:\n%s", method, name, page)
			}
		}
	}
	if f.status(t, "ann@example.org") != subscribers.Confirmed || f.status(t, "bob@example.org") != subscribers.Unconfirmed {
		t.Fatal("a bad token changed a status")
	}
}

func TestSubscribeRefusals(t *testing.T) { pgpeer.EachDriver(t, testSubscribeRefusals) }

func testSubscribeRefusals(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	c, csrf := f.session(t)
	other, _ := f.session(t)
	valid := func() url.Values {
		return url.Values{"email": {"ann@example.org"}, "name": {"Ann"}, "consent": {"yes"}, "csrf": {csrf}}
	}
	with := func(k, v string) url.Values { u := valid(); u.Set(k, v); return u }
	tests := []struct {
		name   string
		form   url.Values
		cookie *http.Cookie
		status int
		want   string
	}{
		{"no CSRF field", with("csrf", ""), c, 403, "session expired"},
		{"wrong CSRF field", with("csrf", csrf[:len(csrf)-2]+"AA"), c, 403, "session expired"},
		{"no cookie", valid(), nil, 403, "session expired"},
		{"another browser's cookie", valid(), other, 403, "session expired"},
		{"honeypot filled", with("website", "http://spam.example"), c, 200, "Check your inbox"},
		{"no consent", with("consent", ""), c, 400, "tick the box"},
		{"malformed address", with("email", "ann@"), c, 400, "valid email address"},
		{"header injection in address", with("email", "ann@example.org\r\nBcc: victim@example.org"), c, 400, "valid email address"},
		{"header injection in name", with("name", "Ann\r\nBcc: victim@example.org"), c, 400, "on one line"},
		{"over-long name", with("name", strings.Repeat("n", 101)), c, 400, "on one line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(postForm("/subscribe", tt.form, tt.cookie), "192.0.2.1")
			page, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status || !strings.Contains(string(page), tt.want) {
				t.Fatalf("%d, want %d with %q:\n%s", res.StatusCode, tt.status, tt.want, page)
			}
		})
		f.clock.Advance(time.Minute) // stay under the rate limit
	}
	if len(f.mailer.all()) != 0 || f.status(t, "ann@example.org") != "" {
		t.Fatalf("a refused form stored or mailed something: %d mails, %s", len(f.mailer.all()), f.status(t, "ann@example.org"))
	}
	// The refused form keeps what was typed (escaped).
	res := f.do(postForm("/subscribe", with("email", `"><script>x</script>`), c), "192.0.2.1")
	page, _ := io.ReadAll(res.Body)
	if strings.Contains(string(page), "<script>x") || !strings.Contains(string(page), "&lt;script&gt;") {
		t.Fatalf("form echo not escaped:\n%s", page)
	}
}

func TestOversizedForm(t *testing.T) { pgpeer.EachDriver(t, testOversizedForm) }

func testOversizedForm(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	c, csrf := f.session(t)
	v := url.Values{"email": {"ann@example.org"}, "consent": {"yes"}, "csrf": {csrf}, "name": {strings.Repeat("x", 1<<20)}}
	res := f.do(postForm("/subscribe", v, c), "192.0.2.1")
	if res.StatusCode != http.StatusRequestEntityTooLarge || len(f.mailer.all()) != 0 {
		t.Fatalf("1 MiB form: %d, %d mails", res.StatusCode, len(f.mailer.all()))
	}
	for _, path := range []string{"/unsubscribe", "/confirm"} {
		req := httptest.NewRequest("POST", path, strings.NewReader("t="+strings.Repeat("x", 1<<20)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if res := f.do(req, "192.0.2.1"); res.StatusCode != 400 {
			t.Errorf("1 MiB POST %s: %d", path, res.StatusCode)
		}
	}
}

func TestSubscribeRateLimit(t *testing.T) { pgpeer.EachDriver(t, testSubscribeRateLimit) }

func testSubscribeRateLimit(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	c, csrf := f.session(t)
	post := func(ip string, i int) *http.Response {
		return f.do(postForm("/subscribe", url.Values{"email": {"s" + string(rune('a'+i)) + "@example.org"}, "consent": {"yes"}, "csrf": {csrf}}, c), ip)
	}
	for i := range f.nl.opts.RateLimit.Burst {
		if res := post("192.0.2.1", i); res.StatusCode != 200 {
			t.Fatalf("attempt %d: %d", i+1, res.StatusCode)
		}
	}
	res := post("192.0.2.1", 10)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("over the burst: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if f.status(t, "sk@example.org") != "" {
		t.Fatal("a rate-limited request was stored")
	}
	if res := post("198.51.100.1", 11); res.StatusCode != 200 {
		t.Fatalf("another address was limited too: %d", res.StatusCode)
	}
	// IPv6 clients are limited per /64.
	for i := range f.nl.opts.RateLimit.Burst {
		post("2001:db8:1:2::"+string(rune('1'+i)), 12+i)
	}
	if res := post("2001:db8:1:2::ffff", 20); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d", res.StatusCode)
	}
	f.clock.Advance(f.nl.opts.RateLimit.Every)
	if res := post("192.0.2.1", 21); res.StatusCode != 200 {
		t.Fatalf("after refill: %d", res.StatusCode)
	}
}

// TestSubscribeRateLimitIsAnOption: the limit a server is given is the one
// it applies; no package variable stands in for it.
func TestSubscribeRateLimitIsAnOption(t *testing.T) {
	t.Parallel()
	f := newFixtureOn(t, "sqlite", "http://127.0.0.1:8080", nil, func(o *NewsletterOptions) {
		o.RateLimit = RateLimit{Burst: 2, Every: time.Hour}
	})
	c, csrf := f.session(t)
	for i := range 3 {
		res := f.do(postForm("/subscribe", url.Values{"email": {"s" + string(rune('a'+i)) + "@example.org"}, "consent": {"yes"}, "csrf": {csrf}}, c), "192.0.2.1")
		if want := map[bool]int{true: 200, false: http.StatusTooManyRequests}[i < 2]; res.StatusCode != want {
			t.Fatalf("attempt %d: %d, want %d", i+1, res.StatusCode, want)
		}
	}
}

func TestResendThrottle(t *testing.T) { pgpeer.EachDriver(t, testResendThrottle) }

func testResendThrottle(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	f.subscribe(t, "ann@example.org", "", "192.0.2.1")
	f.clock.Advance(time.Minute)
	f.subscribe(t, "ann@example.org", "", "192.0.2.2")
	if n := len(f.mailer.all()); n != 1 {
		t.Fatalf("a repeat within 10 minutes sent %d mails, want 1", n)
	}
	f.clock.Advance(10 * time.Minute)
	f.subscribe(t, "ann@example.org", "", "192.0.2.3")
	mails := f.mailer.all()
	if len(mails) != 2 {
		t.Fatalf("a repeat after 10 minutes sent %d mails in all, want 2", len(mails))
	}
	// Both links work until they expire.
	for _, m := range mails {
		if err := f.signer.Check(tokenOf(t, m.URL), subscribers.PurposeConfirm, m.Sub, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
	}
	// The repeat is a request until confirmed; confirming takes its record.
	if sub, _ := f.store.GetByEmail(context.Background(), "ann@example.org"); sub.ConsentIP != "192.0.2.1" {
		t.Fatalf("consent record changed by an unconfirmed repeat: %+v", sub)
	}
	if res := f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[0].URL)}}, nil), "192.0.2.3"); res.StatusCode != 200 {
		t.Fatalf("confirm: %d", res.StatusCode)
	}
	if sub, _ := f.store.GetByEmail(context.Background(), "ann@example.org"); sub.ConsentIP != "192.0.2.3" || sub.Status != subscribers.Confirmed {
		t.Fatalf("consent record not renewed on confirmation: %+v", sub)
	}
}

func TestAdminAPI(t *testing.T) { pgpeer.EachDriver(t, testAdminAPI) }

func testAdminAPI(t *testing.T, driver string) {
	var erased []int64
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, func(o *NewsletterOptions) {
		o.Erased = func(id int64) error { erased = append(erased, id); return nil }
	})
	ctx := context.Background()
	for _, e := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		f.store.Add(ctx, subscribers.Subscriber{Email: e, Status: subscribers.Confirmed, ConsentSource: "import:x.csv", ConsentAt: f.clock.Now()})
	}
	if hist, _ := f.store.History(ctx, 1); len(hist) != 1 {
		t.Fatalf("history before DELETE: %+v", hist)
	}
	f.store.SetStatus(ctx, 2, subscribers.Unsubscribed, "one-click")
	admin := func(method, path string, auth bool) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		return f.do(req, "127.0.0.1")
	}
	for _, p := range []string{"/admin/subscribers", "/admin/subscribers/export"} {
		if res := admin("GET", p, false); res.StatusCode != 401 {
			t.Errorf("%s without token: %d", p, res.StatusCode)
		}
	}
	if res := admin("DELETE", "/admin/subscribers/a@example.org", false); res.StatusCode != 401 || f.status(t, "a@example.org") == "" {
		t.Fatal("DELETE without token")
	}

	res := admin("GET", "/admin/subscribers?status=confirmed&limit=1", true)
	var page adminList
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	if len(page.Subscribers) != 1 || page.Subscribers[0].Email != "a@example.org" || page.NextAfter != 1 {
		t.Fatalf("page 1 %+v", page)
	}
	res = admin("GET", "/admin/subscribers?status=confirmed&limit=1&after=1", true)
	json.NewDecoder(res.Body).Decode(&page)
	if len(page.Subscribers) != 1 || page.Subscribers[0].Email != "c@example.org" {
		t.Fatalf("page 2 %+v", page)
	}
	if res := admin("GET", "/admin/subscribers?status=nope", true); res.StatusCode != 400 {
		t.Errorf("bad status: %d", res.StatusCode)
	}

	res = admin("GET", "/admin/subscribers/export", true)
	csvBody, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || strings.Count(string(csvBody), "\n") != 4 || !strings.Contains(string(csvBody), "import:x.csv") {
		t.Fatalf("export %d:\n%s", res.StatusCode, csvBody)
	}

	if res := admin("DELETE", "/admin/subscribers/A@Example.org", true); res.StatusCode != 204 {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if len(erased) != 1 || erased[0] != 1 {
		t.Fatalf("the outbox was asked to erase %v, want subscriber 1", erased)
	}
	if f.status(t, "a@example.org") != "" {
		t.Fatal("DELETE left the subscriber")
	}
	if hist, err := f.store.History(ctx, 1); err != nil || len(hist) != 0 {
		t.Fatalf("DELETE left the consent history: %+v %v", hist, err)
	}
	if res := admin("DELETE", "/admin/subscribers/a@example.org", true); res.StatusCode != 404 {
		t.Fatalf("DELETE again: %d", res.StatusCode)
	}
	// "/" is valid in an address's local part.
	f.store.Add(ctx, subscribers.Subscriber{Email: "dept/news@example.org"})
	if res := admin("DELETE", "/admin/subscribers/dept%2Fnews@example.org", true); res.StatusCode != 204 {
		t.Fatalf("DELETE of an address with a slash: %d", res.StatusCode)
	}
	if res := admin("DELETE", "/admin/subscribers/not-an-address", true); res.StatusCode != 400 {
		t.Fatalf("DELETE malformed: %d", res.StatusCode)
	}
}

func TestMountNewsletterChecksOptions(t *testing.T) {
	pgpeer.EachDriver(t, testMountNewsletterChecksOptions)
}

func testMountNewsletterChecksOptions(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	for _, u := range []string{"", "news.example.org", "ftp://x", "http://"} {
		err := MountNewsletter(New(Options{}), NewsletterOptions{Store: f.store, Signer: f.signer, Mailer: f.mailer, PublicURL: u})
		if err == nil {
			t.Errorf("public URL %q accepted", u)
		}
	}
	if err := MountNewsletter(New(Options{}), NewsletterOptions{PublicURL: "http://x.org"}); err == nil {
		t.Error("missing store accepted")
	}
}

func TestErasedSupporterSubscribesAgain(t *testing.T) {
	pgpeer.EachDriver(t, testErasedSupporterSubscribesAgain)
}

func testErasedSupporterSubscribesAgain(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	ctx := context.Background()
	f.store.Add(ctx, subscribers.Subscriber{Email: "ann@example.org", Status: subscribers.Confirmed})
	if err := f.store.Delete(ctx, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	res, body := f.subscribe(t, "ann@example.org", "Ann", "192.0.2.1")
	mails := f.mailer.all()
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") || len(mails) != 1 || mails[0].Sub.Name != "Ann" {
		t.Fatalf("form after erasure: %d, %+v", res.StatusCode, mails)
	}
	// Until the owner confirms, the erasure stands: still suppressed (so an
	// import is still refused), and nothing of the form kept as a record.
	if sup, _ := f.store.IsSuppressed(ctx, "ann@example.org"); !sup {
		t.Fatal("the form alone lifted the suppression")
	}
	sub, err := f.store.GetByEmail(ctx, "ann@example.org")
	if err != nil || sub.Status != subscribers.Unconfirmed || sub.Name != "" || !sub.ConsentAt.IsZero() || sub.ConsentIP != "" {
		t.Fatalf("before confirming: %+v, %v", sub, err)
	}
	rep, err := f.store.Import(ctx, strings.NewReader("email,status\nann@example.org,confirmed\n"), subscribers.ImportOptions{Source: "import:old.csv"})
	if err != nil || rep.Added != 0 {
		t.Fatalf("import before confirming: %+v, %v", rep, err)
	}
	if res := f.do(postForm("/confirm", url.Values{"t": {tokenOf(t, mails[0].URL)}}, nil), "192.0.2.5"); res.StatusCode != 200 {
		t.Fatalf("confirm: %d", res.StatusCode)
	}
	if sup, _ := f.store.IsSuppressed(ctx, "ann@example.org"); sup {
		t.Fatal("suppression kept after the owner confirmed")
	}
	sub, _ = f.store.GetByEmail(ctx, "ann@example.org")
	if sub.Status != subscribers.Confirmed || sub.Name != "Ann" || sub.ConsentIP != "192.0.2.1" || sub.ConsentSource != "form:/subscribe" {
		t.Fatalf("after confirming: %+v", sub)
	}
}

func TestFormLeavesRecordUntilConfirmed(t *testing.T) {
	pgpeer.EachDriver(t, testFormLeavesRecordUntilConfirmed)
}

func testFormLeavesRecordUntilConfirmed(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	ctx := context.Background()
	consent := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	sub, err := f.store.Add(ctx, subscribers.Subscriber{Email: "bob@example.org", Name: "Bob", Status: subscribers.Confirmed,
		ConsentAt: consent, ConsentSource: "import:members.csv", ConsentIP: "198.51.100.4"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Hour)
	if err := f.store.SetStatus(ctx, sub.ID, subscribers.Bounced, "550 mailbox unknown"); err != nil {
		t.Fatal(err)
	}
	before, _ := f.store.GetByEmail(ctx, "bob@example.org")
	f.clock.Advance(time.Hour)
	f.subscribe(t, "bob@example.org", "Mallory", "203.0.113.66")
	after, _ := f.store.GetByEmail(ctx, "bob@example.org")
	if !reflect.DeepEqual(after, before) || len(f.mailer.all()) != 1 {
		t.Fatalf("a form post changed the record:\n%+v\nwas\n%+v", after, before)
	}
	// The owner never confirms: the request lapses and the record is intact.
	f.clock.Advance(subscribers.ConfirmTTL + time.Hour)
	f.subscribe(t, "someone@example.org", "", "192.0.2.1") // runs the purge
	if after, _ := f.store.GetByEmail(ctx, "bob@example.org"); !reflect.DeepEqual(after, before) {
		t.Fatalf("the purge touched a bounced subscriber: %+v", after)
	}
	hist, _ := f.store.History(ctx, sub.ID)
	if len(hist) != 2 || hist[0].Event != "consent" || hist[1].Event != "bounced" || hist[1].Source != "550 mailbox unknown" {
		t.Fatalf("history %+v", hist)
	}
}

func TestUnconfirmedSignupsArePurged(t *testing.T) {
	pgpeer.EachDriver(t, testUnconfirmedSignupsArePurged)
}

func testUnconfirmedSignupsArePurged(t *testing.T, driver string) {
	var mu sync.Mutex
	var erased []int64
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, func(o *NewsletterOptions) {
		o.Erased = func(id int64) error { mu.Lock(); defer mu.Unlock(); erased = append(erased, id); return nil }
	})
	ctx := context.Background()
	f.subscribe(t, "ann@example.org", "Ann", "192.0.2.1") // the first request purges (nothing yet)
	ann, _ := f.store.GetByEmail(ctx, "ann@example.org")
	f.store.Add(ctx, subscribers.Subscriber{Email: "imported@example.org"})
	f.clock.Advance(subscribers.ConfirmTTL - time.Minute)
	f.subscribe(t, "bob@example.org", "", "192.0.2.2")
	if f.status(t, "ann@example.org") != subscribers.Unconfirmed {
		t.Fatal("purged before the link expired")
	}
	f.clock.Advance(time.Hour)
	f.subscribe(t, "carl@example.org", "", "192.0.2.3")
	if f.status(t, "ann@example.org") != "" {
		t.Fatal("a sign-up never confirmed is still stored after its link expired")
	}
	mu.Lock()
	if len(erased) != 1 || erased[0] != ann.ID {
		t.Errorf("the outbox was asked to erase %v, want %d (the purged sign-up's confirmation mail holds the address)", erased, ann.ID)
	}
	mu.Unlock()
	for _, e := range []string{"bob@example.org", "carl@example.org", "imported@example.org"} {
		if f.status(t, e) != subscribers.Unconfirmed {
			t.Errorf("%s was purged", e)
		}
	}
}

func TestConfirmationMailCap(t *testing.T) { pgpeer.EachDriver(t, testConfirmationMailCap) }

func testConfirmationMailCap(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, func(o *NewsletterOptions) { o.MaxConfirmationsPerHour = 2 })
	for i, e := range []string{"a@example.org", "b@example.org", "c@example.org"} {
		res, body := f.subscribe(t, e, "", "192.0.2."+string(rune('1'+i)))
		if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") {
			t.Fatalf("%s: %d", e, res.StatusCode)
		}
		f.clock.Advance(time.Minute)
	}
	if n := len(f.mailer.all()); n != 2 {
		t.Fatalf("%d confirmation mails under a cap of 2", n)
	}
	res := f.do(httptest.NewRequest("GET", "/metrics", nil), "127.0.0.1")
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), `crier_newsletter_page_events_total{event="mail_capped"} 1`) {
		t.Fatalf("no mail_capped metric:\n%s", body)
	}
	// The capped supporter can try again once the hour has passed: their
	// resend pause was not spent.
	f.clock.Advance(time.Hour)
	f.subscribe(t, "c@example.org", "", "192.0.2.3")
	if mails := f.mailer.all(); len(mails) != 3 || mails[2].Sub.Email != "c@example.org" {
		t.Fatalf("after the hour: %+v", mails)
	}
}

func TestMailerFailureCanBeRetried(t *testing.T) { pgpeer.EachDriver(t, testMailerFailureCanBeRetried) }

func testMailerFailureCanBeRetried(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	f.mailer.fail = errors.New("smtp: 451 try later")
	res, body := f.subscribe(t, "ann@example.org", "", "192.0.2.1")
	if res.StatusCode != 200 || !strings.Contains(body, "Check your inbox") || len(f.mailer.all()) != 0 {
		t.Fatalf("mailer failure: %d\n%s", res.StatusCode, body)
	}
	// Trying again at once works: the failed mail does not count against
	// the resend pause.
	f.mailer.fail = nil
	if res, _ := f.subscribe(t, "ann@example.org", "", "192.0.2.1"); res.StatusCode != 200 || len(f.mailer.all()) != 1 {
		t.Fatalf("retry: %d, %d mails", res.StatusCode, len(f.mailer.all()))
	}
}

func TestMetrics(t *testing.T) { pgpeer.EachDriver(t, testMetrics) }

func testMetrics(t *testing.T, driver string) {
	f := newFixtureOn(t, driver, "http://127.0.0.1:8080", nil, nil)
	f.subscribe(t, "ann@example.org", "", "192.0.2.1")
	c, csrf := f.session(t)
	f.do(postForm("/subscribe", url.Values{"email": {"bot@example.org"}, "consent": {"yes"}, "csrf": {csrf}, "website": {"x"}}, c), "192.0.2.2")
	f.do(httptest.NewRequest("GET", "/confirm?t=forged", nil), "192.0.2.3")
	res := f.do(httptest.NewRequest("GET", "/metrics", nil), "127.0.0.1")
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`crier_newsletter_page_events_total{event="subscribe"} 1`,
		`crier_newsletter_page_events_total{event="honeypot"} 1`,
		`crier_newsletter_page_events_total{event="bad_link"} 1`,
		`crier_newsletter_page_events_total{event="one_click"} 0`,
		`crier_newsletter_subscribers{status="unconfirmed"} 1`,
		`crier_newsletter_subscribers{status="confirmed"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
