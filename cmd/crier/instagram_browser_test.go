package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestInstagramPreviewInTheBrowser: an author writing a post sees the
// Instagram preview beside the others: without a picture, the title card
// Crier will draw with its alt text; the link written out and the note that
// links in captions are not clickable; then the picture with its alt
// text. The page passes axe-core. The channel has no credentials: it
// renders to the outbox.
func TestInstagramPreviewInTheBrowser(t *testing.T) {
	b, dir := authorWriting(t, `, colours: {background: "#123456", text: "#ffffff", accent: "#ff8800"}`, `instagram: {enabled: true, user_id: "17841400008460056"}`)
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
	screenshotsIf(b, "post-instagram-card")
	before = b.previewUpdates()
	pic := filepath.Join(dir, "candles.png")
	writePicture(t, pic)
	b.upload("Image", pic)
	b.fill("Alt text", "Candles on the steps of the town hall at dusk")
	b.waitPreviewAfter(before)
	b.waitText(".preview-instagram figcaption", "Alt text: Candles on the steps of the town hall at dusk")
	b.axe("instagram preview with a picture")
	screenshotsIf(b, "post-instagram")
}
