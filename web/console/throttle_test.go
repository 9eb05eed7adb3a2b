package console

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"testing"
)

// clientHeader names the client in these tests (the console's ClientIP
// stands behind a trusted proxy in production).
const clientHeader = "X-Test-Client"

type asClient struct {
	ip   string
	next http.RoundTripper
}

func (a asClient) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(clientHeader, a.ip)
	return a.next.RoundTrip(r)
}

// browserAt is a fresh browser whose requests come from ip.
func (b *bundle) browserAt(t *testing.T, ip string) *browser {
	br := b.browser(t)
	br.client.Transport = asClient{ip: ip, next: http.DefaultTransport}
	return br
}

// from moves an existing browser, its cookies kept, to another address.
func (br *browser) from(ip string) *browser {
	br.client.Transport = asClient{ip: ip, next: http.DefaultTransport}
	return br
}

func clientsByHeader(b *bundle) {
	b.c.opts.ClientIP = func(r *http.Request) string { return r.Header.Get(clientHeader) }
}

// TestNobodyLocksAnOrganiserOut: strangers failing on purpose from many
// addresses slow strangers down, but the organiser's own browser (it has
// signed in to that account before) keeps its own budget, from any address.
func TestNobodyLocksAnOrganiserOut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	clientsByHeader(b)
	laptop := b.browserAt(t, "198.51.100.10").signedIn("owner@example.org")
	if p := laptop.post("/logout", url.Values{"csrf": {laptop.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", p.status)
	}
	// The attack reported: wrong passwords from many addresses.
	for i := range 12 {
		for range 5 {
			b.browserAt(t, "203.0.113."+strconv.Itoa(i+1)).login("OWNER@example.org", "a wrong guess, on purpose")
		}
	}
	// The organiser's browser, now on another network, signs in, after a typo too.
	laptop.from("192.0.2.77")
	if p := laptop.login("owner@example.org", "correct horse batery"); p.status != http.StatusUnauthorized {
		t.Fatalf("the organiser's typo: %d", p.status)
	}
	if p := laptop.login("owner@example.org", "correct horse battery"); p.status != http.StatusSeeOther {
		t.Fatalf("the organiser's browser is locked out by strangers: %d", p.status)
	}
	// A stranger with the right password is slowed down meanwhile.
	if p := b.browserAt(t, "192.0.2.200").login("owner@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("a stranger after the attack: %d, want 429", p.status)
	}
	// The device cookie speaks for one account only, and only as issued.
	other := b.browserAt(t, "192.0.2.201")
	u, _ := url.Parse(b.srv.URL)
	other.client.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: laptop.cookie(deviceCookie)}})
	if p := other.login("owner@example.org", "correct horse battery"); p.status != http.StatusSeeOther {
		t.Fatalf("the device cookie copied to another browser: %d", p.status)
	}
	forged := b.browserAt(t, "192.0.2.202")
	forged.client.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: tamper(laptop.cookie(deviceCookie))}})
	if p := forged.login("owner@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("a forged device cookie: %d, want 429", p.status)
	}
	editorCookie := b.browserAt(t, "192.0.2.203").signedIn("editor@example.org").cookie(deviceCookie)
	wrongAccount := b.browserAt(t, "192.0.2.204")
	wrongAccount.client.Jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: editorCookie}})
	if p := wrongAccount.login("owner@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("another account's device cookie: %d, want 429", p.status)
	}
	// A device cookie used to guess loses its trust after its own budget.
	laptop.jarFresh(t, b, laptop.cookie(deviceCookie))
	for range maxDeviceFailures {
		laptop.login("owner@example.org", "guessing with a device cookie")
	}
	if p := laptop.login("owner@example.org", "correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Fatalf("a device cookie after %d failures: %d, want 429", maxDeviceFailures, p.status)
	}
	b.now.Add(throttleWindow)
	if p := b.browserAt(t, "192.0.2.200").login("owner@example.org", "correct horse battery"); p.status != http.StatusSeeOther {
		t.Fatalf("a stranger after the window: %d", p.status)
	}
}

// jarFresh gives the browser a new cookie jar holding only the device cookie.
func (br *browser) jarFresh(t *testing.T, b *bundle, device string) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(b.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: deviceCookie, Value: device}})
	br.client.Jar = jar
}

func tamper(v string) string {
	if v == "" {
		return "x"
	}
	c := []byte(v)
	if c[0] == 'A' {
		c[0] = 'B'
	} else {
		c[0] = 'A'
	}
	return string(c)
}
