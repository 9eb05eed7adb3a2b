package mastodon

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels/plaintext"
)

// Counter measures a status the way the server does before it accepts it.
type Counter struct {
	// URLLength is what every http(s) URL counts as
	// (characters_reserved_per_url, 23 on Mastodon).
	URLLength int
	// Runes counts code points with URLs and mentions in full, as GoToSocial
	// does (it advertises characters_reserved_per_url but does not apply it).
	Runes bool
}

// Count returns the length of a status with the given content warning and
// text. Mastodon counts grapheme clusters of the content warning followed by
// the text in which every URL is replaced by URLLength characters and every
// @user@domain mention by @user.
func (c Counter) Count(spoiler, text string) int {
	if c.Runes {
		return utf8.RuneCountInString(spoiler) + utf8.RuneCountInString(text)
	}
	var b strings.Builder
	b.WriteString(spoiler)
	last := 0
	for _, e := range entities(text) {
		switch e.kind {
		case entityURL:
			b.WriteString(text[last:e.start])
			b.WriteString(strings.Repeat("x", c.URLLength))
			last = e.end
		case entityMention:
			b.WriteString(text[last:e.start])
			user, _, _ := strings.Cut(text[e.start+1:e.end], "@")
			b.WriteString("@" + user)
			last = e.end
		}
	}
	b.WriteString(text[last:])
	return uniseg.GraphemeClusterCount(b.String())
}

type entityKind int

const (
	entityURL entityKind = iota
	entityMention
	entityHashtag
)

// entity is a span of text that must never be cut: a URL, a mention or a
// hashtag.
type entity struct {
	kind       entityKind
	start, end int // byte offsets
}

// mentionRE is Mastodon's Account::MENTION_RE without its look-behind, which
// entities checks by hand.
var mentionRE = regexp.MustCompile(`^@([a-zA-Z0-9_]+(?:[.-]+[a-zA-Z0-9_]+)*)(@[\p{L}\p{M}\p{N}_.\-]*[\p{L}\p{M}\p{N}_])?`)

var hashtagRE = regexp.MustCompile(`^#[\p{L}\p{M}\p{N}_·\x{200c}]*[\p{L}\p{M}_·\x{200c}][\p{L}\p{M}\p{N}_·\x{200c}]*`)

// entities returns the URLs, mentions and hashtags of text in order, without
// overlaps (the one starting first wins, as in Mastodon's extractor).
func entities(text string) []entity {
	var out []entity
	i := 0
	for i < len(text) {
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		if i == 0 {
			prev = ' '
		}
		switch text[i] {
		case 'h', 'H':
			if n := plaintext.SchemeLen(text[i:]); n > 0 && !plaintext.IsWordRune(prev) {
				if end := plaintext.URLEnd(text, i+n); end > i+n {
					out = append(out, entity{entityURL, i, end})
					i = end
					continue
				}
			}
		case '@':
			if prev != '=' && prev != '/' && !plaintext.IsWordRune(prev) {
				if m := mentionRE.FindStringIndex(text[i:]); m != nil {
					out = append(out, entity{entityMention, i, i + m[1]})
					i += m[1]
					continue
				}
			}
		case '#':
			if prev != '/' && prev != ')' && prev != '&' && !plaintext.IsWordRune(prev) {
				if m := hashtagRE.FindStringIndex(text[i:]); m != nil {
					out = append(out, entity{entityHashtag, i, i + m[1]})
					i += m[1]
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return out
}
