package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
)

// TestThreadsPreviewInTheBrowser: an author writing a long post sees the
// Threads preview in Threads' shape (a chain of posts, each counted
// against 500, the topic tag from the first tag, the link attachment's
// card, then the picture with its alt text), and the page passes
// axe-core. The channel has no token: it renders to the outbox.
func TestThreadsPreviewInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	crier := setup(t, "")
	dir := crier.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	crier.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, timezone: Europe/London}
http: {listen: %q, public_url: %q}
sources:
  markdown: {dir: posts}
channels:
  threads: {enabled: true, user_id: "17841400008460056"}
  email: {mode: outbox, from: "CAMACA <news@camaca.example>"}
`, addr, base))
	crier.addUser("ann.author@camaca.example", "author", "author's long passphrase")
	crier.startDaemon(base+"/healthz", &http.Client{Timeout: 20 * time.Second})

	b := newConsoleBrowser(t, base)
	b.signIn("ann.author@camaca.example", "author's long passphrase")
	b.open("/posts/new")
	b.fill("Title", "Vigil for the victims on Friday")
	before := b.previewUpdates()
	b.fill("Text", strings.Repeat("Join us at 6pm outside the town hall to remember the victims; bring a candle and a friend. ", 8))
	b.fill("Link", "https://camaca.example/news/vigil")
	b.fill("Tags", "Human Rights, vigil")
	b.waitPreviewAfter(before)
	b.waitText(".preview-threads .toot-text", "Vigil for the victims on Friday")
	b.waitText(".preview-threads", "Threads shows a card for https://camaca.example/news/vigil")
	b.waitText(".preview-threads .toot-text", "Topic: Human Rights")
	b.waitText(".preview-threads", "each post after the first is a reply")
	if got := b.text(".preview-threads .count"); !strings.HasSuffix(got, "/ 500") {
		t.Errorf("count %q", got)
	}
	before = b.previewUpdates()
	pic := filepath.Join(dir, "candles.png")
	writePicture(t, pic)
	b.upload("Image", pic)
	b.fill("Alt text", "Candles on the steps of the town hall at dusk")
	b.waitPreviewAfter(before)
	b.waitText(".preview-threads figcaption", "Alt text: Candles on the steps of the town hall at dusk")
	b.axe("threads preview")
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		b.screenshots(shots, "post-threads")
	}
}
