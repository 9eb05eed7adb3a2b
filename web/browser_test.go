package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crierhq/crier/internal/testpeers/chromium"
	"github.com/crierhq/crier/subscribers"
)

// TestBrowserSubscribeConfirmUnsubscribe walks a supporter through the pages
// in a real headless Chromium at phone width: subscribe, follow the link
// from the confirmation mail, confirm, unsubscribe. With
// CRIER_SCREENSHOTS=DIR it saves screenshots of the pages there.
func TestBrowserSubscribeConfirmUnsubscribe(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// The server starts first so that its URL is the public URL.
	var h lateHandler
	srv := httptest.NewServer(&h)
	defer srv.Close()
	f := newFixture(t, srv.URL)
	h.h = f.h

	ctx := chromium.New(t, chromium.Options{Width: 390, Height: 844})
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			dir := os.Getenv("CRIER_SCREENSHOTS")
			if dir == "" {
				return nil
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	// darkShot saves a screenshot with the device in dark mode.
	darkShot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if os.Getenv("CRIER_SCREENSHOTS") == "" {
				return nil
			}
			dark := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}
			if _, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: dark}); err != nil {
				return err
			}
			if _, err := shot(name)(ctx, tg); err != nil {
				return err
			}
			light := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: light})
			return err
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// A phone: 390 CSS pixels wide, as an iPhone 12-15.
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/subscribe"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		shot("subscribe-phone"),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Every visible field has a label, the page does not scroll sideways,
	// and the honeypot is off-screen.
	audit, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
		const bad = [];
		for (const el of document.querySelectorAll('input:not([type=hidden]), button')) {
			if (el.closest('.hp')) continue;
			if (el.tagName === 'INPUT' && el.labels.length === 0) bad.push('no label: ' + el.name);
			const r = el.getBoundingClientRect();
			if (r.height < 24) bad.push('small target: ' + (el.name || el.textContent));
		}
		if (document.documentElement.scrollWidth > window.innerWidth) bad.push('scrolls sideways: ' + document.documentElement.scrollWidth);
		const hp = document.querySelector('.hp').getBoundingClientRect();
		if (hp.right > 0 && hp.width > 1) bad.push('honeypot visible');
		return bad.join('; ');
	})()`))
	if err != nil || audit != "" {
		t.Fatalf("subscribe page audit: %q %v", audit, err)
	}

	// An empty form comes back with its errors next to the fields.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#consent-error")),
		shot("subscribe-errors-phone"),
		darkShot("subscribe-errors-phone-dark"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text("#email-error"); got != "Please enter your email address." {
		t.Fatalf("email error %q", got)
	}

	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#email"), "supporter@example.org"),
		chromedp.SendKeys(chromedp.CSS("#name"), "Sam Supporter"),
		chromedp.Click(chromedp.CSS("#consent")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		// The form page has an h1 too: wait until the form has gone.
		chromedp.WaitNotPresent(chromedp.CSS("#email")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text("h1"); got != "Check your inbox" {
		t.Fatalf("after subscribing the page says %q", got)
	}
	f.nl.mem.inflight.Wait() // the mail goes out after the page
	mails := f.mailer.all()
	if len(mails) != 1 || !strings.HasPrefix(mails[0].URL, srv.URL+"/confirm?t=") {
		t.Fatalf("confirmation mails: %+v", mails)
	}
	if st := f.status(t, "supporter@example.org"); st != subscribers.Unconfirmed {
		t.Fatalf("after the form: %s", st)
	}

	// Follow the link from the mail: a page with a button, then confirmed.
	err = chromedp.Do(ctx,
		chromedp.Navigate(mails[0].URL),
		chromedp.WaitVisible(chromedp.CSS("form button")),
		shot("confirm-phone"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if st := f.status(t, "supporter@example.org"); st != subscribers.Unconfirmed {
		t.Fatalf("opening the confirm link changed the status to %s", st)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("form button")), chromedp.WaitVisible(chromedp.CSS("a[href^='preferences']"))); err != nil {
		t.Fatal(err)
	}
	if got := text("h1"); got != "You are subscribed" {
		t.Fatalf("after confirming the page says %q", got)
	}
	if st := f.status(t, "supporter@example.org"); st != subscribers.Confirmed {
		t.Fatalf("after confirming: %s", st)
	}

	// Leave again through the preferences page the page links to.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a[href^='preferences']")),
		chromedp.WaitVisible(chromedp.CSS(".leave form button")),
		chromedp.Click(chromedp.CSS(".leave form button")),
		chromedp.WaitVisible(chromedp.CSS("a[href='subscribe']")),
		shot("unsubscribed-phone"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := text("h1"); got != "You are unsubscribed" {
		t.Fatalf("after unsubscribing the page says %q", got)
	}
	if st := f.status(t, "supporter@example.org"); st != subscribers.Unsubscribed {
		t.Fatalf("after unsubscribing: %s", st)
	}
}

// lateHandler lets the test server start before its handler exists.
type lateHandler struct{ h http.Handler }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }
