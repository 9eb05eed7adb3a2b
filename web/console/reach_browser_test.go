package console

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crierhq/crier/internal/testpeers/axe"
	"github.com/crierhq/crier/internal/testpeers/chromium"
)

// TestReachPagesInTheBrowser opens, in Chromium, the post page with its
// Reach panel (the chart's numbers and a warned reply opened), What worked
// and the posts list, with a fake reach source, and checks each with
// axe-core at 1280 and 390 px, light and dark: no serious or critical
// violation, nothing scrolling sideways on a phone, and on a phone the
// lists as cards whose titles read as lines, not a word per line. With
// CRIER_CONSOLE_SCREENSHOTS=DIR it saves screenshots there (docs/img/console).
func TestReachPagesInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	b := setup(t)
	b.workedFixture(t).posts = map[string][]ChannelReach{"md:vigil": vigilReach(b.now.Now())}
	ctx := chromium.New(t, chromium.Options{Width: 1280, Height: 900, Timeout: 4 * time.Minute})
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return v
	}
	emulate := func(width int, dark bool) {
		t.Helper()
		scheme := map[bool]string{true: "dark", false: "light"}[dark]
		run("emulating", chromedp.EmulateViewport(int64(width), 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		}))
	}
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")
	check := func(name string) {
		t.Helper()
		for _, m := range []struct {
			suffix string
			width  int
			dark   bool
		}{{"desktop", 1280, false}, {"phone", 390, false}, {"phone-dark", 390, true}} {
			emulate(m.width, m.dark)
			vs, err := axe.Audit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range axe.Serious(vs) {
				t.Errorf("axe: %s at %d px (dark %v): %v", name, m.width, m.dark, v)
			}
			if m.width == 390 {
				if w := eval(`(() => { const d = document.scrollingElement;
					const tables = [...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth + 1);
					return d.scrollWidth > d.clientWidth || tables.length ? d.scrollWidth + ' px, ' + tables.length + ' tables scroll' : ''; })()`); w != "" {
					t.Errorf("%s scrolls sideways at 390 px: %s", name, w)
				}
			}
			if shots != "" {
				time.Sleep(200 * time.Millisecond)
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(shots, name+"-"+m.suffix+".png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		emulate(1280, false)
	}
	open := func(path string) {
		t.Helper()
		run("opening "+path, chromedp.Navigate(b.srv.URL+path), chromedp.WaitReady(chromedp.CSS("main")))
	}

	open("/login")
	run("signing in", chromedp.SendKeys(chromedp.CSS("#email"), "editor@example.org"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("main button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("a[href='/worked']")))

	open("/posts/md:vigil")
	if got := eval(`document.querySelector('#reach-mastodon svg[role=img]') ? 'chart' : ''`); got != "chart" {
		t.Fatalf("no chart on the post page: %s", eval(`document.querySelector('main').innerText`))
	}
	// The chart scales to its panel: it never overflows a phone.
	emulate(390, false)
	if got := eval(`String(document.querySelector('#reach-mastodon svg').getBoundingClientRect().right <= document.querySelector('#reach-mastodon').getBoundingClientRect().right)`); got != "true" {
		t.Error("the chart overflows its panel at 390 px")
	}
	emulate(1280, false)
	eval(`(() => { document.querySelectorAll('#reach-mastodon details').forEach(d => d.open = true); return ''; })()`)
	check("reach-post")

	open("/worked?period=90")
	check("worked")
	// On a phone each post is a card: its title on lines of many words,
	// the column headers gone, each value under its label.
	emulate(390, false)
	card := eval(`(() => { const a = document.querySelector('table.worked tbody td:first-child a');
		const head = document.querySelector('table.worked thead').getBoundingClientRect();
		const lines = Math.round(a.getBoundingClientRect().height / parseFloat(getComputedStyle(a).lineHeight || 24));
		const label = getComputedStyle(document.querySelector('table.worked tbody .cell-label')).display;
		return [head.height <= 1, label, a.getBoundingClientRect().width > 250 || lines <= 2].join(' '); })()`)
	if card != "true block true" {
		t.Errorf("What worked at 390 px is not cards (header hidden, labels shown, title on full lines): %q", card)
	}
	emulate(1280, false)

	open("/posts")
	check("posts-reach")
	// At any width the title column keeps room for words: never a word per
	// line under a tall header (on the old page, at 700 px: 165 px under a
	// header of 89 px; at 601 px, 124 px under 113 px).
	for _, width := range []int{1280, 1000, 901, 900, 700, 601, 390} {
		emulate(width, false)
		px := func(js string) int {
			n, _ := strconv.Atoi(eval(`String(Math.round(` + js + `))`))
			return n
		}
		if w := px(`document.querySelector('table.posts tbody td:first-child').getBoundingClientRect().width`); w < 190 {
			t.Errorf("at %d px the posts list's title column is %d px wide", width, w)
		}
		if h := px(`document.querySelector('table.posts thead').getBoundingClientRect().height`); h > 70 {
			t.Errorf("at %d px the posts list's header is %d px tall", width, h)
		}
	}
	if !strings.Contains(eval(`document.querySelector('table.posts').innerText`), "62") {
		t.Error("the posts list does not show the vigil's reach")
	}
}
