package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestThreadsPreviewInTheBrowser: an author writing a long post sees the
// Threads preview in Threads' shape (a chain of posts, each counted
// against 500, the topic tag from the first tag, the link attachment's
// card, then the picture with its alt text), and the page passes
// axe-core. The channel has no token: it renders to the outbox.
func TestThreadsPreviewInTheBrowser(t *testing.T) {
	b, dir := authorWriting(t, ``, `threads: {enabled: true, user_id: "17841400008460056"}`)
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
	screenshotsIf(b, "post-threads")
}
