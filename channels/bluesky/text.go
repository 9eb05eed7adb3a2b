package bluesky

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crierhq/crier/channels/plaintext"
	"github.com/rivo/uniseg"
)

// The app.bsky.feed.post lexicon's limits on text.
const (
	MaxGraphemes = 300
	MaxBytes     = 3000
	// maxTagGraphemes and maxTagBytes bound a tag facet's value.
	maxTagGraphemes = 64
	maxTagBytes     = 640
)

// fits reports whether text is within the lexicon's limits.
func fits(text string) bool {
	return len(text) <= MaxBytes && uniseg.GraphemeClusterCount(text) <= MaxGraphemes
}

type entityKind int

const (
	entityLink entityKind = iota
	entityMention
	entityTag
)

// entity is a span of text a facet covers and a cut must never split.
type entity struct {
	kind       entityKind
	start, end int    // byte offsets
	value      string // the URI, the handle (without @) or the tag (without #)
}

// handleRE matches a handle after the @ (domain-like, at least one dot).
var mentionRE = regexp.MustCompile(`^@(([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)`)

// entities finds the links (http and https URLs), mentions and hashtags of
// text, in order and without overlaps, the way Bluesky's own apps detect
// them: a mention or hashtag starts the text or follows white space (a
// mention may also follow an opening parenthesis).
func entities(text string) []entity {
	var out []entity
	i := 0
	for i < len(text) {
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		atStart := i == 0 || unicode.IsSpace(prev)
		switch {
		case (text[i] == 'h' || text[i] == 'H') && (atStart || prev == '(' || !plaintext.IsWordRune(prev)):
			if n := plaintext.SchemeLen(text[i:]); n > 0 {
				if end := plaintext.URLEnd(text, i+n); end > i+n {
					out = append(out, entity{kind: entityLink, start: i, end: end, value: text[i:end]})
					i = end
					continue
				}
			}
		case text[i] == '@' && (atStart || prev == '('):
			if m := mentionRE.FindStringSubmatchIndex(text[i:]); m != nil {
				end := i + m[1]
				// "@a.b.c." or "@x.yz-": the handle must end where a word does.
				if r, _ := utf8.DecodeRuneInString(text[end:]); end == len(text) || !plaintext.IsWordRune(r) && r != '-' {
					out = append(out, entity{kind: entityMention, start: i, end: end, value: strings.ToLower(text[i+1 : end])})
					i = end
					continue
				}
			}
		case atStart && (strings.HasPrefix(text[i:], "#") || strings.HasPrefix(text[i:], "＃")):
			if e, ok := tagAt(text, i); ok {
				out = append(out, e)
				i = e.end
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return out
}

// tagAt reads a hashtag starting at text[i] ('#' or '＃'): everything up to
// white space, without trailing punctuation, not all digits, at most 64
// graphemes; not the keycap emoji #️⃣.
func tagAt(text string, i int) (entity, bool) {
	_, hashSize := utf8.DecodeRuneInString(text[i:])
	from := i + hashSize
	end := from
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		if unicode.IsSpace(r) || isInvisible(r) {
			break
		}
		end += size
	}
	for end > from {
		r, size := utf8.DecodeLastRuneInString(text[from:end])
		if !unicode.IsPunct(r) {
			break
		}
		end -= size
	}
	tag := text[from:end]
	if tag == "" || strings.HasPrefix(tag, "\ufe0f") || strings.HasPrefix(tag, "\u20e3") {
		return entity{}, false
	}
	if !strings.ContainsFunc(tag, func(r rune) bool { return !unicode.IsDigit(r) && !unicode.IsPunct(r) }) {
		return entity{}, false
	}
	if len(tag) > maxTagBytes || uniseg.GraphemeClusterCount(tag) > maxTagGraphemes {
		return entity{}, false
	}
	return entity{kind: entityTag, start: i, end: end, value: tag}, true
}

// isInvisible reports the format characters that end a tag in Bluesky's apps.
func isInvisible(r rune) bool {
	switch r {
	case '\u00ad', '\u2060', '\u200a', '\u200b', '\u200c', '\u200d', '\u20e2':
		return true
	}
	return false
}

// cut is a place where text may be shortened.
type cut = plaintext.Cut

// rule is how Bluesky counts a post (plaintext.Rule): the lexicon's
// graphemes and bytes.
type rule struct{}

func (rule) Fits(text string) bool { return fits(text) }

func (rule) Parts(text string) int {
	return max(uniseg.GraphemeClusterCount(text)/MaxGraphemes+1, len(text)/MaxBytes+1)
}

// Cuts never cuts inside a link, mention or hashtag, and stops once the
// kept text alone is over the lexicon's limits.
func (rule) Cuts(text string) (word, fine []cut) {
	// Only the start of the text can be kept; an entity crossing the end of
	// this window is still recognised, as no mention or hashtag is that long
	// and a URL cut short is still a URL.
	window := text
	if len(window) > MaxBytes+1024 {
		window = strings.ToValidUTF8(window[:MaxBytes+1024], "")
	}
	ents := entities(window)
	spans := make([]plaintext.Span, len(ents))
	for i, e := range ents {
		spans[i] = plaintext.Span{Start: e.start, End: e.end}
	}
	return plaintext.Cuts(text, spans, func(bytes, graphemes, _ int) bool { return graphemes <= MaxGraphemes && bytes <= MaxBytes })
}

func (rule) Hashtag(tag string) string { return Hashtag(tag) }

func (rule) Hashtags(text string) []string {
	var out []string
	for _, e := range entities(text) {
		if e.kind == entityTag {
			out = append(out, e.value)
		}
	}
	return out
}

// Hashtag turns a tag into a hashtag: "child trafficking" becomes
// "#ChildTrafficking" (CamelCase keeps several words readable for screen
// readers), punctuation is dropped, and "" is returned for a tag without a
// letter.
func Hashtag(tag string) string {
	h := plaintext.CamelTag(tag)
	if !strings.ContainsFunc(h, unicode.IsLetter) || len(h) > maxTagBytes || uniseg.GraphemeClusterCount(h) > maxTagGraphemes {
		return ""
	}
	return "#" + h
}

// displayLink is how the canonical link shows in the text (the link facet
// carries the full URI): without its scheme and "www.", and cut with an
// ellipsis after 30 graphemes, as Bluesky's own apps show links.
func displayLink(uri string) string {
	s := uri
	if n := plaintext.SchemeLen(s); n > 0 {
		s = s[n:]
	}
	s = strings.TrimPrefix(s, "www.")
	s = strings.TrimSuffix(s, "/")
	if uniseg.GraphemeClusterCount(s) <= 32 {
		return s
	}
	var b strings.Builder
	state, rest := -1, s
	for n := 0; n < 30; n++ {
		var cluster string
		cluster, rest, _, state = uniseg.StepString(rest, state)
		b.WriteString(cluster)
	}
	return b.String() + "…"
}
