package console

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/internal/testpeers/axe"
	"github.com/crierhq/crier/internal/testpeers/chromium"
	"github.com/crierhq/crier/post"
)

// TestCorrectionPagesInTheBrowser walks Correct everywhere and Withdraw
// everywhere in Chromium against a fake Corrections: the form, the review
// with the previews side by side, the history with a refusal, an author's
// pending correction, the withdrawal's confirmation and "changed since
// published". axe-core checks each page at 1280 and 390 px, light and
// dark, and nothing may scroll sideways at 390 px. With
// CRIER_CONSOLE_SCREENSHOTS=DIR it saves the screenshots docs/console.md
// shows (docs/img/console).
func TestCorrectionPagesInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	b := setup(t)
	f := withCorrections(b)
	camp := channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", Language: "en", PublicURL: b.srv.URL}
	b.c.opts.Render = channelRender(t, camp, "  mastodon: {visibility: public, max_characters: 500}\n  discord: {}\n  bluesky: {enabled: true}\n"+
		"  email: {from: \"CAMACA <news@camaca.example>\", newsletter: each_post}\n",
		mastodon.Provider{}, discord.Provider{}, bluesky.Provider{}, email.Provider{})
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)
	cb := &correctionBrowser{t: t, ctx: chromium.New(t, chromium.Options{Width: 1280, Height: 900, Timeout: 5 * time.Minute}), base: b.srv.URL}

	cb.signIn("editor@example.org")
	cb.open("/posts/" + id)
	cb.check("correct-post")
	cb.click(`a[href$="/correct"]`)
	cb.waitFor("#note")
	cb.check("correct-form")
	cb.fill("#note", "The vigil starts at 7pm, not 6pm.")
	cb.fill("#body", "Join us at 7pm at the town hall.")
	cb.click("#style_bluesky_1")
	cb.click("#mail_email")
	cb.click(`button[value=review]`)
	cb.waitFor(".compare")
	if got := cb.text(".compare-channel"); !strings.Contains(got, "6pm") || !strings.Contains(got, "7pm") {
		t.Errorf("the review's first channel shows %q", got)
	}
	cb.check("correct-review")
	cb.click(`button[name=confirm]`)
	cb.waitFor(".corrections")
	if len(f.requests) != 1 || f.requests[0].Styles["bluesky"] != channels.CorrectByRepost || !f.requests[0].Mail {
		t.Fatalf("the browser's correction: %+v", f.requests)
	}

	// A withdrawal that a network refused, and what to do by hand.
	cb.open("/posts/" + id + "/withdraw")
	cb.check("withdraw-form")
	cb.fill("#reason", "It named the wrong person.")
	cb.click(`main form button.danger`)
	cb.waitFor(".confirm")
	cb.check("withdraw-confirm")
	cb.click(`main form button.danger`)
	cb.waitFor(".notice")
	if len(f.withdrawn) != 1 {
		t.Fatalf("the browser's withdrawal: %+v", f.withdrawn)
	}
	f.mu.Lock()
	f.history = append([]CorrectionRecord{{Kind: "withdrawal", By: "editor@example.org", At: b.now.Now(), Note: "It named the wrong person.", State: "failed",
		Results: []CorrectionResult{
			{Channel: "mastodon", State: "done", Parts: []channels.PartResult{{Index: 0, Outcome: channels.OutcomeDeleted}}},
			{Channel: "bluesky", State: "failed", Error: "The account was removed, so Crier cannot delete the post: ask Bluesky's moderators to remove it, citing the address under Channels."}}}},
		f.history...)
	f.mu.Unlock()
	cb.open("/posts/" + id)
	cb.waitFor(".corrections .problem")
	cb.check("correct-history")

	// An author's correction waits for an editor, who reads it first.
	authorForm := correctionForm(t, author, id, url.Values{"body": {"Join us at 7pm."}, "note": {"7pm, not 6pm."}, "channel": {"bluesky"}})
	confirm := hiddenFields(author.post("/posts/"+id+"/correct", authorForm).body)
	confirm.Set("confirm", "yes")
	author.post("/posts/"+id+"/correct", confirm)
	cb.open("/posts/" + id + "/corrections/2")
	cb.waitFor(".compare")
	cb.check("correct-approve")

	// A source that changed since publishing.
	f.changed, f.now = true, post.Post{Title: "Vigil on Friday", Body: "Join us at 8pm at the town hall.", Link: "https://camaca.example/vigil"}
	cb.open("/posts")
	cb.waitFor(".chip-changed")
	cb.check("posts-changed")
	cb.open("/posts/" + id)
	cb.waitFor(".changed")
	cb.check("post-changed")
}

// correctionBrowser is the little of a browser these pages need.
type correctionBrowser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *correctionBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		b.t.Fatalf("%s: %v\npage:\n%s", what, err, page)
	}
}

func (b *correctionBrowser) open(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *correctionBrowser) waitFor(sel string) {
	b.t.Helper()
	b.do("waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (b *correctionBrowser) click(sel string) {
	b.t.Helper()
	b.do("clicking "+sel, chromedp.Click(chromedp.CSS(sel)), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *correctionBrowser) fill(sel, value string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { document.querySelector(%q).value = ''; return ''; })()`, sel))); err != nil {
		b.t.Fatalf("clearing %s: %v", sel, err)
	}
	b.do("filling "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *correctionBrowser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : ''; })()`, sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

func (b *correctionBrowser) signIn(email string) {
	b.t.Helper()
	b.open("/login")
	b.fill("#email", email)
	b.fill("#password", "correct horse battery")
	b.click(`main button[type=submit]`)
	b.waitFor(".who")
}

// check runs axe-core at 1280 and 390 px, light and dark, fails on any
// serious or critical violation or a page wider than a phone, and saves
// the screenshots when asked.
func (b *correctionBrowser) check(name string) {
	b.t.Helper()
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")
	for _, m := range []struct {
		suffix string
		width  int64
		dark   bool
	}{{"desktop", 1280, false}, {"phone", 390, false}, {"phone-dark", 390, true}} {
		scheme := map[bool]string{false: "light", true: "dark"}[m.dark]
		b.do("emulating", chromedp.EmulateViewport(m.width, 900), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
			return err
		}))
		vs, err := axe.Audit(b.ctx)
		if err != nil {
			b.t.Fatalf("%s: %v", name, err)
		}
		for _, v := range axe.Serious(vs) {
			b.t.Errorf("%s (%s): axe: %s", name, m.suffix, v)
		}
		if m.width == 390 {
			wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => { const d = document.scrollingElement; if (d.scrollWidth <= d.clientWidth) return '';
				return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.frames'))
					.map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).slice(0, 5).join(', '); })()`))
			if err != nil || wide != "" {
				b.t.Errorf("%s scrolls sideways at 390 px: %s %v", name, wide, err)
			}
		}
		if shots != "" && m.suffix != "phone-dark" {
			png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				b.t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shots, name+"-"+m.suffix+".png"), png, 0o644); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	b.do("emulating", chromedp.EmulateViewport(1280, 900))
}
