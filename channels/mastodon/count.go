package mastodon

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
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

// schemeLen returns the length of the http(s) scheme s starts with, or 0.
// Like Mastodon (twitter-text with extract_url_without_protocol off), only
// URLs with a scheme count as URLs.
func schemeLen(s string) int {
	for _, scheme := range []string{"http://", "https://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return len(scheme)
		}
	}
	return 0
}

// mentionRE is Mastodon's Account::MENTION_RE without its look-behind, which
// entities checks by hand.
var mentionRE = regexp.MustCompile(`^@([a-zA-Z0-9_]+(?:[.-]+[a-zA-Z0-9_]+)*)(@[\p{L}\p{M}\p{N}_.\-]*[\p{L}\p{M}\p{N}_])?`)

var hashtagRE = regexp.MustCompile(`^#[\p{L}\p{M}\p{N}_·\x{200c}]*[\p{L}\p{M}_·\x{200c}][\p{L}\p{M}\p{N}_·\x{200c}]*`)

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || r == '_'
}

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
			if n := schemeLen(text[i:]); n > 0 && !isWordRune(prev) {
				if end := urlEnd(text, i+n); end > i+n {
					out = append(out, entity{entityURL, i, end})
					i = end
					continue
				}
			}
		case '@':
			if prev != '=' && prev != '/' && !isWordRune(prev) {
				if m := mentionRE.FindStringIndex(text[i:]); m != nil {
					out = append(out, entity{entityMention, i, i + m[1]})
					i += m[1]
					continue
				}
			}
		case '#':
			if prev != '/' && prev != ')' && prev != '&' && !isWordRune(prev) {
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

// urlEnd returns where a URL whose host starts at from ends: at white space
// or a character URLs do not contain, without trailing punctuation, and with
// a closing parenthesis only when it balances an opening one.
func urlEnd(text string, from int) int {
	end := from
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		if unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' || r == '…' || r == '«' || r == '»' ||
			r == '“' || r == '”' || r == '「' || r == '」' || r == '、' || r == '。' || r == '，' ||
			(r > unicode.MaxLatin1 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)) {
			break
		}
		end += size
	}
	for end > from {
		r, size := utf8.DecodeLastRuneInString(text[from:end])
		switch {
		case strings.ContainsRune(".,:;!?'*", r):
			end -= size
			continue
		case r == ')' || r == ']':
			open := map[rune]rune{')': '(', ']': '['}[r]
			if strings.Count(text[from:end], string(open)) < strings.Count(text[from:end], string(r)) {
				end -= size
				continue
			}
		}
		break
	}
	// A URL needs a host starting with a letter or digit (twitter-text's
	// valid_domain): "http://!x" is not a URL to Mastodon.
	if r, _ := utf8.DecodeRuneInString(text[from:end]); !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return from
	}
	return end
}
