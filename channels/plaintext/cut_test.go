package plaintext

import "testing"

func TestKeptAndBest(t *testing.T) {
	t.Parallel()
	text := "One two. Three four five"
	word := []Cut{{Pos: 3}, {Pos: 8, Sentence: true}, {Pos: 14}, {Pos: 19}, {Pos: 24, Sentence: true}}
	fits := func(max int) func(Cut) bool { return func(c Cut) bool { return len(Kept(text, c, false)) <= max } }
	// A sentence end that keeps at least half of the best word cut wins.
	if c, ok := Best(word, nil, fits(16)); !ok || Kept(text, c, false) != "One two. …" {
		t.Errorf("Best(16) = %q", Kept(text, c, false))
	}
	if c, ok := Best(word, nil, fits(100)); !ok || Kept(text, c, false) != text {
		t.Errorf("Best(100) = %q, want all of it without an ellipsis", Kept(text, c, false))
	}
	// No word cut fits: the fine cuts are tried.
	fine := []Cut{{Pos: 1}, {Pos: 2}}
	if c, ok := Best(word, fine, fits(5)); !ok || Kept(text, c, false) != "On…" {
		t.Errorf("Best(5) = %q", Kept(text, c, false))
	}
	if _, ok := Best(word, fine, fits(3)); ok {
		t.Error("Best(3) found a cut")
	}
	if got := Kept("Read this, then", Cut{Pos: 10}, false); got != "Read this…" {
		t.Errorf("Kept drops trailing punctuation: %q", got)
	}
	if got := Kept("Part one and more", Cut{Pos: 8}, true); got != "Part one" {
		t.Errorf("Kept with noEllipsis = %q", got)
	}
}
