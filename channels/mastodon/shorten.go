package mastodon

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crierhq/crier/channels/plaintext"
	"github.com/rivo/uniseg"
)

// cut is a place where text may be shortened.
type cut = plaintext.Cut

// cuts lists, in order, where text may be cut at a line-break opportunity
// (UAX #14: between words, and between CJK ideographs), never inside a URL,
// mention or hashtag. fine lists every grapheme boundary outside entities as
// well, for text without any line-break opportunity. Cuts stop once the
// text before them must count more than limit (every grapheme outside an
// entity counts at least one, and every entity at least one), so long texts
// cost in proportion to the budget, not to their length.
func cuts(text string, limit int) (word, fine []cut) {
	ents := entities(text)
	inside := func(pos int) bool {
		i := sort.Search(len(ents), func(i int) bool { return ents[i].end > pos })
		return i < len(ents) && ents[i].start < pos
	}
	ends := map[int]bool{}
	for _, e := range ents {
		ends[e.end] = true
	}
	state := -1
	rest := text
	pos := 0
	lastVisible := 0 // end of the last cluster that is not white space
	weight := 0
	for len(rest) > 0 && weight <= limit+1 {
		var cluster string
		var boundaries int
		cluster, rest, boundaries, state = uniseg.StepString(rest, state)
		pos += len(cluster)
		if strings.TrimSpace(cluster) != "" {
			lastVisible = pos
		}
		if inside(pos) {
			continue
		}
		weight++
		c := cut{Pos: pos, Sentence: boundaries&uniseg.MaskSentence != 0 || len(rest) == 0, AfterEntity: ends[lastVisible]}
		fine = append(fine, c)
		if lb := boundaries & uniseg.MaskLine; lb == uniseg.LineCanBreak || lb == uniseg.LineMustBreak || len(rest) == 0 {
			word = append(word, c)
		}
	}
	return word, fine
}

// fitPrefix finds the longest cut of text for which fits is true (see
// plaintext.Best). It returns ok false when not even the shortest cut fits.
func fitPrefix(text string, limit int, fits func(c cut) bool) (cut, bool) {
	word, fine := cuts(text, limit)
	return plaintext.Best(word, fine, fits)
}

// firstRuneUpper upper-cases the first letter of s.
func firstRuneUpper(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
