package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/axe"
	"github.com/crierhq/crier/internal/testpeers/chromium"
	engine "github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// webVersion is a real newsletter's archived web version, made by the
// email channel as a send makes it.
func webVersion(t *testing.T, publicURL string) string {
	t.Helper()
	f, err := engine.NewFormatter(engine.Config{Enabled: true, From: "CAMACA <news@camaca.org>"},
		channels.Campaign{Name: "CAMACA", Website: "https://camaca.example.org", Language: "en", PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Format(post.Post{ID: "md:vigil", Title: "Vigil for survivors on Saturday", Summary: "Join us at the town hall at 6pm.",
		Body: "We meet **at 6pm** in front of the town hall.\n\nBring a candle; we will read the names of the survivors who asked us to.",
		Link: "https://camaca.example.org/news/vigil", ContentWarning: "child trafficking", PublishAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	html, err := f.(*engine.Formatter).WebVersion(p.Body.(*engine.Message))
	if err != nil {
		t.Fatal(err)
	}
	return html
}

// TestBrowserPreferencesAndArchive opens the preferences and archive pages
// in English and French in a real Chromium at 390 px (a phone) and 1280
// px, light and dark: axe-core finds no serious or critical violation,
// nothing scrolls sideways, and a supporter changes their choices. With
// CRIER_SCREENSHOTS=DIR it saves a screenshot of each page in each size
// and scheme there.
func TestBrowserPreferencesAndArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx := context.Background()
	var h lateHandler
	srv := httptest.NewServer(&h)
	defer srv.Close()
	var arch *archive.Store
	f := newFixtureOpts(t, srv.URL, nil, func(o *NewsletterOptions) {
		o.Topics, o.Newsletter = testWebTopics, "both"
		var err error
		if arch, err = archive.Open(ctx, o.Store.DB()); err != nil {
			t.Fatal(err)
		}
		o.Archive = arch
		o.Campaign.Location = time.UTC
	})
	h.h = f.h
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	for _, e := range []archive.Entry{
		{ID: "post:md:vigil", Kind: "post", Subject: "Vigil for survivors on Saturday", Summary: "Join us at the town hall at 6pm.", HTML: webVersion(t, srv.URL), SentAt: at, Language: "en"},
		{ID: "digest:2026-W47", Kind: "digest", Subject: "CAMACA news: Our 2026 report and 2 more", Summary: "What a year of campaigning changed.", HTML: "<p>digest</p>", SentAt: at.Add(72 * time.Hour)},
	} {
		if err := arch.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ann, tok := f.confirmed(t, "ann.supporter@example.org")

	bctx := chromium.New(t, chromium.Options{Width: 390, Height: 844, Timeout: 3 * time.Minute})
	pages := []struct{ name, path, waitFor string }{
		{"preferences-en", "/preferences?lang=en&t=" + url.QueryEscape(tok), "#frequency-digest"},
		{"preferences-fr", "/preferences?lang=fr&t=" + url.QueryEscape(tok), "#frequency-digest"},
		{"archive-en", "/archive?lang=en", "ul.archive"},
		{"archive-fr", "/archive?lang=fr", "ul.archive"},
		{"archive-page", "/archive/" + archive.Slug("post:md:vigil"), "h1"},
		{"subscribe-es", "/subscribe?lang=es", "#topic-events"},
		{"unsubscribe-de", "/unsubscribe?lang=de&t=" + url.QueryEscape(tok), "form button"},
	}
	for _, pg := range pages {
		for _, width := range []int64{390, 1280} {
			for _, scheme := range []string{"light", "dark"} {
				name := fmt.Sprintf("%s-%d-%s", pg.name, width, scheme)
				height := int64(844)
				if width > 390 {
					height = 900
				}
				opts := []chromedp.EmulateViewportOption{}
				if width == 390 {
					opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
				}
				err := chromedp.Do(bctx,
					chromedp.EmulateViewport(width, height, opts...),
					colourScheme(scheme),
					chromedp.Navigate(srv.URL+pg.path),
					chromedp.WaitVisible(chromedp.CSS(pg.waitFor)),
					screenshot(name),
				)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				wide, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
				if err != nil || wide {
					t.Errorf("%s scrolls sideways (%v)", name, err)
				}
				vs, err := axe.Audit(bctx)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, v := range axe.Serious(vs) {
					t.Errorf("%s: axe: %s", name, v)
				}
				for _, v := range vs {
					if v.Impact != "serious" && v.Impact != "critical" {
						t.Logf("%s: axe (%s, not failing): %s", name, v.Impact, v)
					}
				}
			}
		}
	}

	// A supporter in French chooses the digest, one topic and German mail.
	err := chromedp.Do(bctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		colourScheme("light"),
		chromedp.Navigate(srv.URL+"/preferences?lang=fr&t="+url.QueryEscape(tok)),
		chromedp.WaitVisible(chromedp.CSS("#frequency-digest")),
		chromedp.Click(chromedp.CSS("#frequency-digest")),
		chromedp.Click(chromedp.CSS("#topic-events")),
		chromedp.SetValue(chromedp.CSS("#mail-language"), "de"),
		chromedp.Click(chromedp.CSS("main form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
		screenshot("preferences-fr-saved-390-light"),
	)
	if err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(".notice")))
	if err != nil || strings.TrimSpace(notice) != "Vos choix sont enregistrés." {
		t.Fatalf("after saving the page says %q (%v)", notice, err)
	}
	got, _ := f.store.Get(ctx, ann.ID)
	if got.Preference != subscribers.Digest || strings.Join(got.Lists, ",") != "events" || got.Language != "de" {
		t.Fatalf("stored %+v", got)
	}
}

// colourScheme makes the page think the device is in light or dark mode.
func colourScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		features := []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: features})
		return err
	})
}

// screenshot saves the whole page as CRIER_SCREENSHOTS/name.png when that
// variable names a folder.
func screenshot(name string) chromedp.Action[chromedp.Void] {
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
