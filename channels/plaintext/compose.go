package plaintext

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/rivo/uniseg"
)

// Rule is how a short-text network counts: what fits in one part, where
// text may be cut, and what it takes for a hashtag. Mastodon counts
// characters with every URL as 23; Bluesky counts graphemes and bytes.
type Rule interface {
	// Fits reports whether text, one whole part, is within the limit.
	Fits(text string) bool
	// Cuts lists where text may be cut (see Cuts), in order.
	Cuts(text string) (word, fine []Cut)
	// Parts estimates how many parts text fills, so that a thread is
	// usually split in one pass.
	Parts(text string) int
	// Hashtag turns a tag into the network's hashtag, "" when it has none.
	Hashtag(tag string) string
	// Hashtags lists the hashtags text has, without their '#'.
	Hashtags(text string) []string
}

// Span is a range of bytes of text that is never cut: a link, a mention or
// a hashtag.
type Span struct{ Start, End int }

// Cuts lists, in order, where text may be cut at a line-break opportunity
// (UAX #14: between words, and between CJK ideographs), never inside one of
// spans (sorted, without overlaps). fine lists every grapheme boundary
// outside spans as well, for text without any line-break opportunity.
// Listing goes on while more holds for the text before the next cluster:
// its bytes, its graphemes, and its weight (graphemes outside spans, and
// one a span), so that a long text costs in proportion to the budget.
func Cuts(text string, spans []Span, more func(bytes, graphemes, weight int) bool) (word, fine []Cut) {
	inside := func(pos int) bool {
		i := sort.Search(len(spans), func(i int) bool { return spans[i].End > pos })
		return i < len(spans) && spans[i].Start < pos
	}
	ends := map[int]bool{}
	for _, s := range spans {
		ends[s.End] = true
	}
	state, rest := -1, text
	pos, graphemes, weight := 0, 0, 0
	lastVisible := 0 // end of the last cluster that is not white space
	for len(rest) > 0 && more(pos, graphemes, weight) {
		var cluster string
		var boundaries int
		cluster, rest, boundaries, state = uniseg.StepString(rest, state)
		pos += len(cluster)
		graphemes++
		if strings.TrimSpace(cluster) != "" {
			lastVisible = pos
		}
		if inside(pos) {
			continue
		}
		weight++
		c := Cut{Pos: pos, Sentence: boundaries&uniseg.MaskSentence != 0 || len(rest) == 0, AfterEntity: ends[lastVisible]}
		fine = append(fine, c)
		if lb := boundaries & uniseg.MaskLine; lb == uniseg.LineCanBreak || lb == uniseg.LineMustBreak || len(rest) == 0 {
			word = append(word, c)
		}
	}
	return word, fine
}

// Fit finds the longest cut of text, by r's cuts, for which fits holds
// (see Best). It returns false when not even the shortest cut fits.
func Fit(r Rule, text string, fits func(c Cut) bool) (Cut, bool) {
	word, fine := r.Cuts(text)
	return Best(word, fine, fits)
}

// Hashtags makes hashtags from a post's tags and the configured ones by r,
// leaving out duplicates (case-insensitive) and those text already has.
func Hashtags(r Rule, text string, tags, fixed []string) []string {
	seen := map[string]bool{}
	for _, h := range r.Hashtags(text) {
		seen[strings.ToLower(h)] = true
	}
	var out []string
	for _, t := range append(append([]string(nil), tags...), fixed...) {
		h := r.Hashtag(t)
		if h == "" || seen[strings.ToLower(h[1:])] {
			continue
		}
		seen[strings.ToLower(h[1:])] = true
		out = append(out, h)
	}
	return out
}

// Composer lays a post out in parts within a network's Rule: the title,
// the prose, the link and the hashtags, shortened or threaded.
type Composer struct {
	Rule Rule
	// Lead opens every part (Bluesky's "CW: …"); empty where the network
	// carries the content warning apart (Mastodon's spoiler_text, which
	// its Rule counts).
	Lead string
	// Link is the first part's link as shown; Tags are its hashtags.
	Link string
	Tags []string
	// MaxParts bounds a thread: a text that needs more is shortened in
	// the last part.
	MaxParts int
	// NoRoom is the error when not even the lead, the link and the first
	// of the title fit; Uncut when a part's text has no cut that fits (a
	// URL longer than a part).
	NoRoom, Uncut error
}

// Whole is the text of a post in one part, nothing left out.
func (c *Composer) Whole(title, prose string) string {
	return Join(c.Lead, title, prose, c.Link, c.tagLine())
}

// Compose is the post's parts: the whole text where it fits, else a thread
// (thread set) or one part shortened.
func (c *Composer) Compose(title, prose string, thread bool) ([]string, error) {
	switch {
	case c.Rule.Fits(c.Whole(title, prose)):
		return []string{c.Whole(title, prose)}, nil
	case thread:
		return c.thread(title, prose)
	}
	t, err := c.shorten(title, prose)
	return []string{t}, err
}

func (c *Composer) tagLine() string { return strings.Join(c.Tags, " ") }

// shorten keeps the title, the link and as many hashtags as fit, and as much
// of the prose as fits, cut at a sentence or word boundary with an ellipsis.
// Hashtags go before the prose disappears entirely; the title is shortened
// only when nothing else is left.
func (c *Composer) shorten(title, prose string) (string, error) {
	fits := c.Rule.Fits
	for tags := c.Tags; ; tags = tags[:len(tags)-1] {
		tagLine := strings.Join(tags, " ")
		if fits(Join(c.Lead, title, c.Link, tagLine)) {
			if at, ok := Fit(c.Rule, prose, func(cc Cut) bool {
				return fits(Join(c.Lead, title, Kept(prose, cc, false), c.Link, tagLine))
			}); ok {
				return Join(c.Lead, title, Kept(prose, at, false), c.Link, tagLine), nil
			}
			if len(tags) == 0 || prose == "" {
				return Join(c.Lead, title, c.Link, tagLine), nil
			}
		}
		if len(tags) == 0 {
			break
		}
	}
	at, ok := Fit(c.Rule, title, func(cc Cut) bool { return fits(Join(c.Lead, Kept(title, cc, false), c.Link)) })
	if !ok {
		if fits(Join(c.Lead, c.Link)) {
			return Join(c.Lead, c.Link), nil
		}
		return "", c.NoRoom
	}
	return Join(c.Lead, Kept(title, at, false), c.Link), nil
}

// thread splits the post into numbered parts. The first carries the title,
// the link and the hashtags; the prose flows on through the replies.
func (c *Composer) thread(title, prose string) ([]string, error) {
	return Thread(c.Rule.Parts(c.Whole(title, prose)), c.MaxParts, func(total int) ([]string, error) {
		return c.split(title, prose, total)
	})
}

// split cuts the post into parts without their numbers, assuming total.
func (c *Composer) split(title, prose string, total int) ([]string, error) {
	fits := c.Rule.Fits
	num := func(i int) string { return fmt.Sprintf("%d/%d", i, total) }
	// Part one's fixed content must fit with its number; drop hashtags, then
	// shorten the title, until it does.
	tags := c.Tags
	for !fits(Join(c.Lead, title, c.Link, strings.Join(tags, " "), num(1))) && len(tags) > 0 {
		tags = tags[:len(tags)-1]
	}
	tagLine := strings.Join(tags, " ")
	if !fits(Join(c.Lead, title, c.Link, tagLine, num(1))) {
		at, ok := Fit(c.Rule, title, func(cc Cut) bool { return fits(Join(c.Lead, Kept(title, cc, false), c.Link, num(1))) })
		if !ok {
			return nil, c.NoRoom
		}
		title = Kept(title, at, false)
	}
	var texts []string
	rest := prose
	for i := 1; ; i++ {
		last := i == total && total == c.MaxParts
		body := func(chunk string) string {
			if i == 1 {
				return Join(c.Lead, title, chunk, c.Link, tagLine)
			}
			return Join(c.Lead, chunk)
		}
		fitsNumbered := func(chunk string) bool { return fits(Join(body(chunk), num(i))) }
		if rest == "" || fitsNumbered(rest) {
			return append(texts, body(rest)), nil
		}
		at, ok := Fit(c.Rule, rest, func(cc Cut) bool { return fitsNumbered(Kept(rest, cc, !last)) })
		switch {
		case ok:
			texts = append(texts, body(Kept(rest, at, !last)))
			rest = strings.TrimLeftFunc(rest[at.Pos:], unicode.IsSpace)
		case i == 1:
			texts = append(texts, body("")) // the prose starts in part 2
		default:
			return nil, c.Uncut
		}
		if last || len(texts) > total {
			// Done, or more parts than assumed: Thread tries again with
			// more (cutting on would cost time in proportion to the text).
			return texts, nil
		}
	}
}
