package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// TestConsoleReachFromGoToSocial: the daemon delivers a post to a real
// GoToSocial, a second account favourites it and replies behind a content
// warning, and in Chromium an editor opens the post's page: before any
// read every count is "not available"; Refresh the numbers reads the real
// counts (1 favourite, quotes not available, not 0) and the reply appears
// behind its warning; What worked lists the post with its total. axe-core
// checks both pages at 1280 and 390 px, light and dark, with the keyboard
// walk. With CRIER_CONSOLE_SCREENSHOTS=DIR it saves screenshots.
func TestConsoleReachFromGoToSocial(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user, fan := gts.NewUser(t), gts.NewUser(t)
	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "posts", "vigil.md"), []byte("---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\ntags: [vigil]\n---\nJoin us at six.\n"), 0o644)
	b.setenv("TEST_MASTODON_TOKEN", user.Token)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	os.WriteFile(b.cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  discord: {enabled: false}
  email: {enabled: false}
  mastodon: {mode: send, instance: %q, token: "${TEST_MASTODON_TOKEN}"}
`, addr, base, gts.URL)), 0o644)
	const editor, password = "ed.editor@camaca.example", "editor's long passphrase"
	b.addUser(editor, "editor", password)
	logs := b.startDaemon(base+"/healthz", &http.Client{Timeout: 30 * time.Second})
	if !testnet.Poll(90*time.Second, func() bool { return b.status().deliveries()["md:vigil/mastodon"] == "sent" }) {
		t.Fatalf("not delivered\n%s", logs.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	toot := onlyToot(t, gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})).ID
	fc := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: fan.Token})
	if _, err := fc.Favourite(ctx, toot); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.PostStatus(ctx, &gomastodon.Toot{Status: "See you there <3 & bring a friend", SpoilerText: "vigil plans",
		Visibility: "public", InReplyToID: toot}); err != nil {
		t.Fatal(err)
	}

	br := newConsoleBrowser(t, base)
	shoot := func(name string) {
		if dir := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); dir != "" {
			br.screenshots(dir, name)
		}
	}
	br.signIn(editor, password)
	br.open("/posts/md:vigil")
	// Not read yet: the first read is an hour after the delivery.
	br.waitText("#reach-mastodon", "Not read successfully yet.")
	if got := br.text("#reach-mastodon .reach-counts"); strings.Contains(got, "0") {
		t.Errorf("before any read the counts show a number: %q", got)
	}
	br.press("Refresh the numbers")
	br.waitText("p.notice[role=status]", "Reach read again.")
	panel := br.text("#reach-mastodon")
	for _, want := range []string{"Favourites\n1", "Replies\n1", "Boosts\n0", "Not available on this network: quotes, reactions.",
		"Last good read:", "Next read:", "Content warning: vigil plans", "Read and answer on Mastodon"} {
		if !strings.Contains(panel, want) {
			t.Errorf("after Refresh the panel lacks %q:\n%s\nlogs:\n%s", want, panel, logs.String())
		}
	}
	if strings.Contains(panel, "See you there") {
		t.Error("the warned reply's text shows before its warning is opened")
	}
	br.eval(`(() => { document.querySelectorAll('#reach-mastodon details').forEach(d => d.open = true); return ''; })()`)
	if got := br.text("#reach-mastodon .reply"); !strings.Contains(got, "See you there <3 & bring a friend") {
		t.Errorf("the reply, opened: %q", got)
	}
	if br.eval(`document.querySelector('#reach-mastodon svg[role=img] desc') ? 'yes' : ''`) != "yes" {
		t.Error("no chart with a description after the first read")
	}
	br.axe("reach-gotosocial")
	shoot("reach-gotosocial")

	br.press("What worked")
	br.waitText("table.worked", "Vigil on Friday")
	if got := br.text("table.worked tbody tr"); !strings.Contains(got, "2") || !strings.Contains(got, "1 reply · 0 boosts · 1 favourite") {
		t.Errorf("What worked's row: %q", got)
	}
	br.axe("worked-gotosocial")
}
