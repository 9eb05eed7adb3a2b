package plaintext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsWordRune reports whether r is part of a word: a letter, a mark, a digit
// or '_'.
func IsWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || r == '_'
}

// SchemeLen returns the length of the http(s) scheme s starts with, or 0.
// Only URLs with a scheme count as URLs, on Mastodon and Bluesky alike.
func SchemeLen(s string) int {
	for _, scheme := range []string{"http://", "https://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return len(scheme)
		}
	}
	return 0
}

// URLEnd returns where a URL whose host starts at from ends: at white space
// or a character URLs do not carry, without trailing punctuation, and with
// a closing bracket only when it balances an opening one. It returns from
// when the host does not start with a letter or digit (twitter-text's
// valid_domain: "http://!x" is not a URL).
func URLEnd(text string, from int) int {
	end := from
	for end < len(text) {
		r, size := utf8.DecodeRuneInString(text[end:])
		if unicode.IsSpace(r) || strings.ContainsRune("<>\"…«»“”「」、。，", r) ||
			(r > unicode.MaxLatin1 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)) {
			break
		}
		end += size
	}
	for end > from {
		r, size := utf8.DecodeLastRuneInString(text[from:end])
		if strings.ContainsRune(".,:;!?'*", r) {
			end -= size
			continue
		}
		if r == ')' || r == ']' {
			open := map[rune]string{')': "(", ']': "["}[r]
			if strings.Count(text[from:end], open) < strings.Count(text[from:end], string(r)) {
				end -= size
				continue
			}
		}
		break
	}
	if r, _ := utf8.DecodeRuneInString(text[from:end]); !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return from
	}
	return end
}

// CamelTag is a tag's words joined for a hashtag, without the '#':
// "child trafficking" becomes "ChildTrafficking" (CamelCase keeps several
// words readable for screen readers), a leading '#', apostrophes and other
// punctuation are dropped. Each network then says whether it is a hashtag.
func CamelTag(tag string) string {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "#")
	tag = strings.NewReplacer("'", "", "’", "", "‘", "").Replace(tag)
	words := strings.FieldsFunc(tag, func(r rune) bool { return !IsWordRune(r) })
	if len(words) > 1 {
		for i, w := range words {
			// FieldsFunc splits at invalid UTF-8, so w starts with a rune.
			r, size := utf8.DecodeRuneInString(w)
			words[i] = string(unicode.ToUpper(r)) + w[size:]
		}
	}
	return strings.Join(words, "")
}
