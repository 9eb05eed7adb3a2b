package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFacebookPreviewInTheBrowser: an author writing a post sees the
// Facebook Page's preview (the text, the note on the link card, then the
// photo with its alt text) beside the others, and the page passes
// axe-core. The channel has no token: it renders to the outbox.
func TestFacebookPreviewInTheBrowser(t *testing.T) {
	b, dir := authorWriting(t, ``, `facebook: {enabled: true, page_id: "104857600012345"}`)
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
	screenshotsIf(b, "post-facebook")
}
