package mastodon

import "testing"

func TestFingerprintUnlinkedMention(t *testing.T) {
	t.Parallel()
	text := "Thanks to @volunteers and @ally@example.org for the vigil https://camaca.example/v"
	html := `<p>Thanks to @volunteers and @ally@example.org for the vigil <a href="https://camaca.example/v">camaca.example/v</a></p>`
	f := fingerprintText(text)
	w, links := fingerprintHTML(html)
	if w != f.words || !containsAll(links, f.links) {
		t.Fatalf("%q vs %q, %v vs %v", f.words, w, links, f.links)
	}
}
