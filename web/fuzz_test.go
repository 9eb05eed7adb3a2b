package web

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/subscribers"
)

// FuzzSubscribeForm posts arbitrary addresses and names with a valid CSRF
// token: the page never fails with a 500, and whatever is stored is
// normalised and free of line breaks.
func FuzzSubscribeForm(f *testing.F) {
	for _, seed := range [][2]string{
		{"ann@example.org", "Ann"},
		{"ann@example.org\r\nBcc: x@y.z", "Ann"},
		{"ann@example.org", "Ann\r\nBcc: x@y.z"},
		{"\"a b\"@example.org", "=HYPERLINK(\"x\")"},
		{"a@bücher.de", "Zoë"},
	} {
		f.Add(seed[0], seed[1])
	}
	fx := newFixture(f, "http://127.0.0.1:8080")
	fx.nl.limiter = newLimiter(RateLimit{}, time.Now) // no rate limit while fuzzing
	c, csrf := fx.session(f)
	f.Fuzz(func(t *testing.T, email, name string) {
		v := url.Values{"email": {email}, "name": {name}, "consent": {"yes"}, "csrf": {csrf}}
		res := fx.do(postForm("/subscribe", v, c), "192.0.2.1")
		switch res.StatusCode {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q, %q", res.StatusCode, email, name)
		}
		norm, err := subscribers.NormalizeEmail(email)
		if err != nil {
			return
		}
		sub, err := fx.store.GetByEmail(context.Background(), norm)
		if err != nil {
			return // refused for its name
		}
		if strings.ContainsAny(sub.Email+sub.Name, "\r\n\x00") {
			t.Fatalf("stored %+v", sub)
		}
	})
}

// FuzzPreferencesForm posts arbitrary choices with a valid link: the page
// never fails with a 500, and what is stored is always one of the choices
// the page offers.
func FuzzPreferencesForm(f *testing.F) {
	for _, seed := range [][3]string{
		{"digest", "events", "fr"},
		{"paused", "", "en"},
		{"each_post", "<script>", "de"},
		{"weekly", "events\r\nreports", "fr-CA"},
		{"digest", "EVENTS", "ES"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	fx, _ := newPrefsFixture(f, "both")
	fx.nl.prefsLimiter = newLimiter(RateLimit{}, time.Now) // no rate limit while fuzzing
	sub, tok := fx.confirmed(f, "ann@example.org")
	f.Fuzz(func(t *testing.T, freq, topic, lang string) {
		v := url.Values{"t": {tok}, "frequency": {freq}, "topic": {topic}, "mail_language": {lang}}
		res := fx.do(postForm("/preferences", v, nil), "192.0.2.1")
		switch res.StatusCode {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q, %q, %q", res.StatusCode, freq, topic, lang)
		}
		got, err := fx.store.Get(context.Background(), sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Preference.Valid() || len(got.Lists) > 2 || (got.Language != "" && got.Language != "en" && got.Language != "fr" && got.Language != "es" && got.Language != "de") {
			t.Fatalf("stored %+v after %q, %q, %q", got, freq, topic, lang)
		}
		for _, l := range got.Lists {
			if l != "events" && l != "reports" {
				t.Fatalf("stored topic %q after %q", l, topic)
			}
		}
	})
}
