package web

import (
	"context"
	"encoding/xml"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/subscribers"
)

var testWebTopics = []Topic{{Key: "events", Name: "Events", Names: map[string]string{"fr": "Événements"}}, {Key: "reports", Name: "Reports", Names: map[string]string{"fr": "Rapports"}}}

// newPrefsFixture mounts the pages with topics, both kinds of newsletter
// and an archive.
func newPrefsFixture(t testing.TB, mode string) (*fixture, *archive.Store) {
	t.Helper()
	return newPrefsFixtureOn(t, "sqlite", mode)
}

// newPrefsFixtureOn is newPrefsFixture on a fresh database of driver.
func newPrefsFixtureOn(t testing.TB, driver, mode string) (*fixture, *archive.Store) {
	t.Helper()
	var arch *archive.Store
	f := newFixtureOn(t, driver, "https://news.camaca.example", nil, func(o *NewsletterOptions) {
		o.Topics, o.Newsletter = testWebTopics, mode
		var err error
		if arch, err = archive.Open(context.Background(), o.Store.DB()); err != nil {
			t.Fatal(err)
		}
		o.Archive = arch
		o.PrivacyPolicyURL = "https://camaca.example.org/privacy"
	})
	return f, arch
}

func (f *fixture) confirmed(t testing.TB, email string) (subscribers.Subscriber, string) {
	t.Helper()
	sub, err := f.store.Add(context.Background(), subscribers.Subscriber{Email: email, Status: subscribers.Confirmed, ConsentSource: "test", ConsentAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return sub, f.signer.Token(subscribers.PurposeUnsubscribe, sub, time.Time{})
}

func read(t testing.TB, res *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func TestPreferencesPage(t *testing.T) { pgpeer.EachDriver(t, testPreferencesPage) }

func testPreferencesPage(t *testing.T, driver string) {
	ctx := context.Background()
	f, _ := newPrefsFixtureOn(t, driver, "both")
	ann, tok := f.confirmed(t, "ann@example.org")

	req := httptest.NewRequest("GET", "/preferences?t="+url.QueryEscape(tok), nil)
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9,en;q=0.5")
	res := f.do(req, "192.0.2.1")
	body := read(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, `<html lang="fr">`) || !strings.Contains(body, "Vos choix d’abonnement") ||
		!strings.Contains(body, "Événements") || !strings.Contains(body, "an***@example.org") || res.Header.Get("Content-Language") != "fr" {
		t.Fatalf("GET /preferences (fr): %d\n%s", res.StatusCode, body)
	}
	if strings.Contains(body, "ann@example.org") {
		t.Fatal("the page shows the whole address")
	}

	// Digest, events only, mails in German.
	res = f.do(postForm("/preferences", url.Values{"t": {tok}, "lang": {"fr"}, "frequency": {"digest"}, "topic": {"events"}, "mail_language": {"de"}}, nil), "192.0.2.9")
	body = read(t, res)
	if res.StatusCode != 200 || !strings.Contains(body, "Vos choix sont enregistrés.") {
		t.Fatalf("POST /preferences: %d\n%s", res.StatusCode, body)
	}
	got, _ := f.store.Get(ctx, ann.ID)
	if got.Preference != subscribers.Digest || strings.Join(got.Lists, ",") != "events" || got.Language != "de" || got.Status != subscribers.Confirmed {
		t.Fatalf("stored %+v", got)
	}
	h, _ := f.store.History(ctx, ann.ID)
	if last := h[len(h)-1]; last.Event != subscribers.EventPreferences || last.IP != "192.0.2.9" || !strings.Contains(last.Source, "digest / topics events / language de") {
		t.Fatalf("consent history %+v", h)
	}

	// Pause, no topics.
	res = f.do(postForm("/preferences", url.Values{"t": {tok}, "frequency": {"paused"}, "mail_language": {"en"}}, nil), "192.0.2.9")
	if res.StatusCode != 200 {
		t.Fatalf("pause: %d", res.StatusCode)
	}
	if got, _ := f.store.Get(ctx, ann.ID); got.Preference != subscribers.Paused || len(got.Lists) != 0 {
		t.Fatalf("paused: %+v", got)
	}
}

// TestPreferencesHostile: bad signatures, unknown choices and oversized
// bodies get a clear answer and change nothing.
func TestPreferencesHostile(t *testing.T) { pgpeer.EachDriver(t, testPreferencesHostile) }

func testPreferencesHostile(t *testing.T, driver string) {
	ctx := context.Background()
	f, _ := newPrefsFixtureOn(t, driver, "both")
	ann, tok := f.confirmed(t, "ann@example.org")
	bob, _ := f.confirmed(t, "bob@example.org")
	before, _ := f.store.History(ctx, ann.ID)
	good := url.Values{"t": {tok}, "frequency": {"digest"}, "mail_language": {"en"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for kk, vv := range good {
			out[kk] = append([]string(nil), vv...)
		}
		out.Set(k, v)
		return out
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		says   string
	}{
		{"forged signature", with("t", tok[:len(tok)-2]+"AA"), 400, "This link does not work"},
		{"another subscriber's id", with("t", strings.Replace(tok, ".1.", ".2.", 1)), 400, "This link does not work"},
		{"a confirm token", with("t", f.signer.Token(subscribers.PurposeConfirm, ann, f.clock.Now().Add(time.Hour))), 400, "This link does not work"},
		{"no token", with("t", ""), 400, "This link does not work"},
		{"unknown topic", with("topic", "<script>"), 400, "One of the topics is not one we offer"},
		{"unknown frequency", with("frequency", "hourly"), 400, "Please choose what you receive from the list."},
		{"unknown language", with("mail_language", "xx"), 400, "Please choose a language from the list."},
		{"language not as offered", with("mail_language", "fr-CA"), 400, "Please choose a language from the list."},
	} {
		res := f.do(postForm("/preferences", tc.form, nil), "192.0.2.1")
		body := read(t, res)
		if res.StatusCode != tc.status || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", tc.name, res.StatusCode, tc.status, tc.says, body)
		}
	}
	// An oversized body.
	big := good.Encode() + "&pad=" + strings.Repeat("x", 10<<10)
	req := httptest.NewRequest("POST", "/preferences", strings.NewReader(big))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res := f.do(req, "192.0.2.1")
	if body := read(t, res); res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "too large") {
		t.Errorf("oversized body: %d\n%s", res.StatusCode, body)
	}
	// Guessing links: past the burst, the form answers 429 without looking.
	for i := 0; ; i++ {
		res := f.do(postForm("/preferences", good, nil), "198.51.100.7")
		if res.StatusCode == http.StatusTooManyRequests {
			if i < f.nl.opts.PreferencesRateLimit.Burst || res.Header.Get("Retry-After") == "" {
				t.Fatalf("limited after %d posts (Retry-After %q)", i, res.Header.Get("Retry-After"))
			}
			break
		}
		if i > f.nl.opts.PreferencesRateLimit.Burst {
			t.Fatal("no rate limit on the preferences form")
		}
		// Undo the valid post, so that "changes nothing" below holds for
		// the refused ones.
		f.store.SetPreferences(ctx, ann.ID, subscribers.Preferences{Preference: subscribers.EveryPost}, "test", "")
	}
	for _, s := range []subscribers.Subscriber{ann, bob} {
		got, _ := f.store.Get(ctx, s.ID)
		if got.Preference != subscribers.EveryPost || len(got.Lists) != 0 || got.Language != "" {
			t.Errorf("a refused post changed %s: %+v", s.Email, got)
		}
	}
	if after, _ := f.store.History(ctx, ann.ID); len(after) != len(before)+2*(f.nl.opts.PreferencesRateLimit.Burst) {
		t.Errorf("history has %d entries, want the %d the valid posts and undos wrote", len(after), len(before)+2*f.nl.opts.PreferencesRateLimit.Burst)
	}
}

// TestPreferencesOneMode: when only each post is mailed, the page offers
// receiving or pausing, says what is sent, and keeps the stored choice.
func TestPreferencesOneMode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := newPrefsFixture(t, "each_post")
	ann, tok := f.confirmed(t, "ann@example.org")
	body := read(t, f.do(httptest.NewRequest("GET", "/preferences?t="+url.QueryEscape(tok), nil), "192.0.2.1"))
	if !strings.Contains(body, "We currently mail every post") || strings.Contains(body, `value="digest"`) || !strings.Contains(body, `value="receive"`) {
		t.Fatalf("one-mode page:\n%s", body)
	}
	if res := f.do(postForm("/preferences", url.Values{"t": {tok}, "frequency": {"digest"}, "mail_language": {"en"}}, nil), "192.0.2.1"); res.StatusCode != 400 {
		t.Fatalf("digest offered nowhere was accepted: %d", res.StatusCode)
	}
	f.do(postForm("/preferences", url.Values{"t": {tok}, "frequency": {"paused"}, "mail_language": {"en"}}, nil), "192.0.2.1")
	f.do(postForm("/preferences", url.Values{"t": {tok}, "frequency": {"receive"}, "mail_language": {"en"}}, nil), "192.0.2.1")
	if got, _ := f.store.Get(ctx, ann.ID); got.Preference != subscribers.EveryPost {
		t.Fatalf("after pause and receive: %+v", got)
	}
}

// TestSubscribeInLanguage: the form in Spanish records Spanish and the
// ticked topics; the confirmation mail is asked for in Spanish; an unknown
// topic is refused.
func TestSubscribeInLanguage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f, _ := newPrefsFixture(t, "both")
	req := httptest.NewRequest("GET", "/subscribe", nil)
	req.Header.Set("Accept-Language", "es-ES,es")
	res := f.do(req, "192.0.2.1")
	body := read(t, res)
	if !strings.Contains(body, "Recibe nuestro boletín") || !strings.Contains(body, `href="https://camaca.example.org/privacy"`) || !strings.Contains(body, `name="topic" value="reports"`) {
		t.Fatalf("subscribe in Spanish:\n%s", body)
	}
	c, csrf := res.Cookies()[0], csrfRE.FindStringSubmatch(body)[1]
	res = f.do(postForm("/subscribe", url.Values{"email": {"eva@example.org"}, "consent": {"yes"}, "csrf": {csrf}, "lang": {"es"}, "topic": {"nope"}}, c), "192.0.2.1")
	if body := read(t, res); res.StatusCode != 400 || !strings.Contains(body, "Elige los temas de la lista.") {
		t.Fatalf("unknown topic: %d\n%s", res.StatusCode, body)
	}
	if _, err := f.store.GetByEmail(ctx, "eva@example.org"); err == nil {
		t.Fatal("a refused form added the address")
	}
	res = f.do(postForm("/subscribe", url.Values{"email": {"eva@example.org"}, "consent": {"yes"}, "csrf": {csrf}, "lang": {"es"}, "topic": {"reports"}}, c), "192.0.2.1")
	if body := read(t, res); res.StatusCode != 200 || !strings.Contains(body, "Revisa tu bandeja de entrada") {
		t.Fatalf("subscribe: %d\n%s", res.StatusCode, body)
	}
	sub, err := f.store.GetByEmail(ctx, "eva@example.org")
	if err != nil || sub.Language != "es" || strings.Join(sub.Lists, ",") != "reports" {
		t.Fatalf("stored %+v %v", sub, err)
	}
	if m := f.mailer.all(); len(m) != 1 || m[0].Sub.Language != "es" {
		t.Fatalf("confirmation mail %+v", m)
	}
}

func TestArchivePages(t *testing.T) { pgpeer.EachDriver(t, testArchivePages) }

func testArchivePages(t *testing.T, driver string) {
	ctx := context.Background()
	f, arch := newPrefsFixtureOn(t, driver, "both")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i, e := range []archive.Entry{
		{ID: "post:md:vigil", Kind: "post", Subject: "Vigil for survivors", Summary: "Saturday at 6pm", HTML: "<!doctype html><p>Vigil</p>", SentAt: at},
		{ID: "post:md:secret", Kind: "post", Subject: "Sent by mistake", HTML: "<p>oops</p>", SentAt: at.Add(time.Hour)},
		{ID: "digest:2026-W10", Kind: "digest", Subject: "CAMACA news & more", HTML: "<p>digest</p>", SentAt: at.Add(2 * time.Hour)},
	} {
		if err := arch.Record(ctx, e); err != nil {
			t.Fatal(i, err)
		}
	}
	// Hidden through the admin API.
	req := httptest.NewRequest("PATCH", "/admin/archive/"+archive.Slug("post:md:secret"), strings.NewReader(`{"hidden": true}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if res := f.do(req, "192.0.2.1"); res.StatusCode != 200 {
		t.Fatalf("hide: %d %s", res.StatusCode, read(t, res))
	}
	req = httptest.NewRequest("PATCH", "/admin/archive/nope", strings.NewReader(`{"hidden": true}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if res := f.do(req, "192.0.2.1"); res.StatusCode != 404 {
		t.Fatalf("hide unknown: %d", res.StatusCode)
	}
	req = httptest.NewRequest("PATCH", "/admin/archive/"+archive.Slug("post:md:vigil"), strings.NewReader(`{"hidden": "yes"}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if res := f.do(req, "192.0.2.1"); res.StatusCode != 400 {
		t.Fatalf("bad body: %d", res.StatusCode)
	}
	if res := f.do(httptest.NewRequest("PATCH", "/admin/archive/x", strings.NewReader(`{"hidden": true}`)), "192.0.2.1"); res.StatusCode != 401 {
		t.Fatalf("hide without a token: %d", res.StatusCode)
	}

	body := read(t, f.do(httptest.NewRequest("GET", "/archive", nil), "192.0.2.1"))
	if !strings.Contains(body, "Vigil for survivors") || !strings.Contains(body, "CAMACA news &amp; more") || strings.Contains(body, "Sent by mistake") ||
		!strings.Contains(body, `href="archive/post%3Amd%3Avigil"`) {
		t.Fatalf("archive list:\n%s", body)
	}
	res := f.do(httptest.NewRequest("GET", "/archive/post%3Amd%3Avigil", nil), "192.0.2.1")
	if body := read(t, res); res.StatusCode != 200 || body != "<!doctype html><p>Vigil</p>" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("archive page: %d %q", res.StatusCode, body)
	}
	arch.Record(ctx, archive.Entry{ID: "post:md:2024/march", Kind: "post", Subject: "March", HTML: "<p>march</p>", SentAt: at})
	if res := f.do(httptest.NewRequest("GET", archive.Path("post:md:2024/march"), nil), "192.0.2.1"); res.StatusCode != 200 || read(t, res) != "<p>march</p>" {
		t.Fatalf("an id with a slash: %d", res.StatusCode)
	}
	if res := f.do(httptest.NewRequest("GET", "/archive/post%3Amd%3Asecret", nil), "192.0.2.1"); res.StatusCode != 404 {
		t.Fatalf("hidden page: %d", res.StatusCode)
	}
	res = f.do(httptest.NewRequest("GET", "/archive/feed.xml", nil), "192.0.2.1")
	var feed struct {
		Channel struct {
			Items []struct {
				Title string `xml:"title"`
				Link  string `xml:"link"`
			} `xml:"item"`
		} `xml:"channel"`
	}
	raw := read(t, res)
	if err := xml.Unmarshal([]byte(raw), &feed); err != nil || res.Header.Get("Content-Type") != "application/rss+xml; charset=utf-8" {
		t.Fatalf("feed: %v\n%s", err, raw)
	}
	if len(feed.Channel.Items) != 3 || feed.Channel.Items[2].Link != "https://news.camaca.example/archive/post%3Amd%3Avigil" || strings.Contains(raw, "mistake") {
		t.Fatalf("feed items %+v", feed.Channel.Items)
	}
	req = httptest.NewRequest("GET", "/admin/archive", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body := read(t, f.do(req, "192.0.2.1")); !strings.Contains(body, `"hidden":true`) || !strings.Contains(body, "Sent by mistake") {
		t.Fatalf("admin list: %s", body)
	}
}
