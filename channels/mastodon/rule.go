package mastodon

import (
	"strings"

	"github.com/crierhq/crier/channels/plaintext"
)

// cut is a place where text may be shortened.
type cut = plaintext.Cut

// rule is how a Mastodon server counts a status (plaintext.Rule): the
// content warning, which opens every part, counts with the text.
type rule struct {
	count func(spoiler, text string) int
	max   int
	cw    string
}

func (r *rule) Fits(text string) bool { return r.count(r.cw, text) <= r.max }

func (r *rule) Parts(text string) int { return r.count(r.cw, text)/r.max + 1 }

// Cuts never cuts inside a URL, mention or hashtag. It stops once the text
// before a cut must count more than the limit (every character outside an
// entity counts at least one, and every entity at least one), so long
// texts cost in proportion to the budget, not to their length.
func (r *rule) Cuts(text string) (word, fine []cut) {
	ents := entities(text)
	spans := make([]plaintext.Span, len(ents))
	for i, e := range ents {
		spans[i] = plaintext.Span{Start: e.start, End: e.end}
	}
	return plaintext.Cuts(text, spans, func(_, _, weight int) bool { return weight <= r.max+1 })
}

func (rule) Hashtag(tag string) string { return Hashtag(tag) }

func (rule) Hashtags(text string) []string {
	var out []string
	for _, e := range entities(text) {
		if e.kind == entityHashtag {
			out = append(out, strings.TrimPrefix(text[e.start:e.end], "#"))
		}
	}
	return out
}
