package plaintext

import (
	"sort"
	"strings"
	"unicode"
)

// Cut is a place where text may be shortened: text[:Pos] is kept. Each
// channel lists its cuts (it knows its own links, mentions and budget);
// Best and Kept are the same for all.
type Cut struct {
	Pos int
	// Sentence is set when text[:Pos] ends a sentence.
	Sentence bool
	// AfterEntity is set when text[:Pos] ends with a link, mention or
	// hashtag, so an ellipsis must not touch it.
	AfterEntity bool
}

// Kept renders text cut at c, with an ellipsis unless all of it is kept or
// noEllipsis is set (a thread continues in the next part).
func Kept(text string, c Cut, noEllipsis bool) string {
	s := strings.TrimRightFunc(text[:c.Pos], unicode.IsSpace)
	if c.Pos >= len(strings.TrimRightFunc(text, unicode.IsSpace)) || noEllipsis {
		return s
	}
	if !c.Sentence && !c.AfterEntity {
		s = strings.TrimRightFunc(s, func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—([{/", r)
		})
	}
	switch {
	case s == "":
		return ""
	case c.Sentence || c.AfterEntity:
		// A space keeps the ellipsis off a link, a hashtag or a full stop.
		return s + " …"
	}
	return s + "…"
}

// Best finds the longest of the word cuts for which fits holds (of the fine
// cuts, between graphemes, when no word cut fits: one very long word),
// preferring a sentence end when it keeps at least half of what a word
// boundary would. It returns false when not even the shortest cut fits.
func Best(word, fine []Cut, fits func(c Cut) bool) (Cut, bool) {
	best, ok := longest(word, fits)
	if !ok {
		return longest(fine, fits)
	}
	for i := len(word) - 1; i >= 0 && word[i].Pos >= best.Pos/2; i-- {
		if word[i].Pos <= best.Pos && word[i].Sentence {
			if fits(word[i]) {
				return word[i], true
			}
			break
		}
	}
	return best, true
}

// longest binary-searches the last candidate that fits: the kept text only
// grows with the cut's position, so the predicate is monotonic.
func longest(cands []Cut, fits func(c Cut) bool) (Cut, bool) {
	n := sort.Search(len(cands), func(i int) bool { return !fits(cands[i]) })
	if n == 0 {
		return Cut{}, false
	}
	return cands[n-1], true
}
