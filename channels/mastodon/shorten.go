package mastodon

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// cut is a place where text may be shortened.
type cut struct {
	pos int // byte offset: text[:pos] is kept
	// sentence is set when text[:pos] ends a sentence.
	sentence bool
	// afterEntity is set when text[:pos] ends with a URL, mention or hashtag,
	// so an ellipsis must not touch it.
	afterEntity bool
}

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
		c := cut{pos: pos, sentence: boundaries&uniseg.MaskSentence != 0 || len(rest) == 0, afterEntity: ends[lastVisible]}
		fine = append(fine, c)
		if lb := boundaries & uniseg.MaskLine; lb == uniseg.LineCanBreak || lb == uniseg.LineMustBreak || len(rest) == 0 {
			word = append(word, c)
		}
	}
	return word, fine
}

// kept renders text cut at c, with an ellipsis unless the whole text is kept
// (or, with noEllipsis, when a thread continues in the next part).
func kept(text string, c cut, noEllipsis bool) string {
	s := strings.TrimRightFunc(text[:c.pos], unicode.IsSpace)
	if c.pos >= len(strings.TrimRightFunc(text, unicode.IsSpace)) || noEllipsis {
		return s
	}
	if !c.sentence && !c.afterEntity {
		s = strings.TrimRightFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—([{/", r)
		})
	}
	if s == "" {
		return ""
	}
	if c.sentence || c.afterEntity {
		return s + " …"
	}
	return s + "…"
}

// fitPrefix finds the longest cut of text for which fits is true, preferring
// a sentence boundary when one keeps at least half of what a word boundary
// would. It returns ok false when not even the shortest cut fits.
func fitPrefix(text string, limit int, fits func(c cut) bool) (cut, bool) {
	word, fine := cuts(text, limit)
	best, ok := longest(word, fits)
	if !ok {
		// No line-break opportunity fits (one very long word): cut between
		// graphemes instead.
		best, ok = longest(fine, fits)
		if !ok {
			return cut{}, false
		}
		return best, true
	}
	for i := len(word) - 1; i >= 0 && word[i].pos >= best.pos/2; i-- {
		if word[i].pos <= best.pos && word[i].sentence {
			if fits(word[i]) {
				return word[i], true
			}
			break
		}
	}
	return best, true
}

// longest binary-searches the last candidate that fits; lengths only grow
// with the cut position, so the predicate is monotonic.
func longest(cands []cut, fits func(c cut) bool) (cut, bool) {
	n := sort.Search(len(cands), func(i int) bool { return !fits(cands[i]) })
	if n == 0 {
		return cut{}, false
	}
	return cands[n-1], true
}

// firstRuneUpper upper-cases the first letter of s.
func firstRuneUpper(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}
