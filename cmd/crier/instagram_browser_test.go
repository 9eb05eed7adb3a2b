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

// TestInstagramPreviewInTheBrowser: an author writing a post sees the
// Instagram preview beside the others: without a picture, the title card
// Crier will draw with its alt text; the link written out and the note that
// links in captions are not clickable; then the picture with its alt
// text. The page passes axe-core. The channel has no credentials: it
// renders to the outbox.
func TestInstagramPreviewInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	crier := setup(t, "")
	dir := crier.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	crier.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, timezone: Europe/London, colours: {background: "#123456", text: "#ffffff", accent: "#ff8800"}}
http: {listen: %q, public_url: %q}
sources:
  markdown: {dir: posts}
channels:
  instagram: {enabled: true, user_id: "17841400008460056"}
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
	b.waitText(".preview-instagram .toot-text", "https://camaca.example/news/vigil")
	b.waitText(".preview-instagram figcaption", "Alt text: Title card: Vigil for the victims on Friday")
	b.waitText(".preview-instagram", "Links in captions are not clickable")
	b.waitText(".preview-instagram", "square title card")
	if got := b.text(".preview-instagram .count"); !strings.HasSuffix(got, "/ 2200") {
		t.Errorf("count %q", got)
	}
	b.axe("instagram preview with a title card")
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		b.screenshots(shots, "post-instagram-card")
	}
	before = b.previewUpdates()
	pic := filepath.Join(dir, "candles.png")
	writePicture(t, pic)
	b.upload("Image", pic)
	b.fill("Alt text", "Candles on the steps of the town hall at dusk")
	b.waitPreviewAfter(before)
	b.waitText(".preview-instagram figcaption", "Alt text: Candles on the steps of the town hall at dusk")
	b.axe("instagram preview with a picture")
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		b.screenshots(shots, "post-instagram")
	}
}
