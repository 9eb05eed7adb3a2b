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

// TestFacebookPreviewInTheBrowser: an author writing a post sees the
// Facebook Page's preview (the text, the note on the link card, then the
// photo with its alt text) beside the others, and the page passes
// axe-core. The channel has no token: it renders to the outbox.
func TestFacebookPreviewInTheBrowser(t *testing.T) {
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
  facebook: {enabled: true, page_id: "104857600012345"}
  email: {mode: outbox, from: "CAMACA <news@camaca.example>"}
`, addr, base))
	crier.addUser("ann.author@camaca.example", "author", "author's long passphrase")
	crier.startDaemon(base+"/healthz", &http.Client{Timeout: 20 * time.Second})

	b := newConsoleBrowser(t, base)
	b.signIn("ann.author@camaca.example", "author's long passphrase")
	b.open("/posts/new")
	b.fill("Title", "Vigil for the victims on Friday")
	before := b.previewUpdates()
	b.fill("Text", "Join us at 6pm outside the town hall. Bring a candle.")
	b.fill("Link", "https://camaca.example/news/vigil")
	b.waitPreviewAfter(before)
	b.waitText(".preview-facebook .toot-text", "Vigil for the victims on Friday")
	b.waitText(".preview-facebook", "Facebook shows a card for https://camaca.example/news/vigil")
	if got := b.text(".preview-facebook .count"); !strings.HasSuffix(got, "/ 63206") {
		t.Errorf("count %q", got)
	}
	before = b.previewUpdates()
	pic := filepath.Join(dir, "candles.png")
	writePicture(t, pic)
	b.upload("Image", pic)
	b.fill("Alt text", "Candles on the steps of the town hall at dusk")
	b.waitPreviewAfter(before)
	b.waitText(".preview-facebook figcaption", "Alt text: Candles on the steps of the town hall at dusk")
	b.waitText(".preview-facebook", "the link is written in the text")
	b.axe("facebook preview")
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		b.screenshots(shots, "post-facebook")
	}
}
