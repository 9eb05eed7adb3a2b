package threads

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels/plaintext"
)

// Count is a text's length as Threads counts it against MaxText: a
// character is one, and an emoji counts as many as its UTF-8 bytes
// ("Emojis are counted as the number of UTF-8 bytes",
// developers.facebook.com/docs/threads/posts, Limitations). Crier counts a
// whole emoji sequence (a flag, a family, a skin tone) by its bytes, so it
// never counts less than Threads.
func Count(text string) int {
	n := 0
	g := uniseg.NewGraphemes(text)
	for g.Next() {
		cluster := g.Str()
		if strings.IndexFunc(cluster, isEmoji) >= 0 {
			n += len(cluster)
		} else {
			n += utf8.RuneCountInString(cluster)
		}
	}
	return n
}

// isEmoji reports whether r is a pictographic rune or one that makes an
// emoji of the cluster it is in (the emoji variation selector, the keycap).
func isEmoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, // pictographs, flags, emoticons
		r >= 0x2600 && r <= 0x27BF, // symbols and dingbats
		r >= 0x2300 && r <= 0x23FF, // technical (⌚, ⏰)
		r >= 0x2B00 && r <= 0x2BFF, // arrows, stars (⭐)
		r == 0xFE0F, r == 0x20E3:
		return true
	}
	return false
}

// utf16Len is s's length in UTF-16 code units (a spoiler's offsets).
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// rule is how Threads counts a post (plaintext.Rule). Threads turns no
// hashtag in the text into a tag (a post has one topic tag, sent apart),
// so the rule makes none.
type rule struct{}

func (rule) Fits(text string) bool { return Count(text) <= MaxText }

func (rule) Parts(text string) int { return Count(text)/MaxText + 1 }

// Cuts never cuts inside a link. Listing stops once the text before a cut
// counts over the limit (each cluster outside a link counts at least one),
// so a long text costs in proportion to the budget.
func (rule) Cuts(text string) (word, fine []plaintext.Cut) {
	return plaintext.Cuts(text, links(text), func(_, _, weight int) bool { return weight <= MaxText+1 })
}

func (rule) Hashtag(string) string { return "" }

func (rule) Hashtags(string) []string { return nil }

// links are the http(s) URLs of text, which Threads links and a cut must
// not split.
func links(text string) []plaintext.Span {
	var out []plaintext.Span
	for i := 0; i < len(text); {
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		if (text[i] == 'h' || text[i] == 'H') && (i == 0 || !plaintext.IsWordRune(prev)) {
			if n := plaintext.SchemeLen(text[i:]); n > 0 {
				if end := plaintext.URLEnd(text, i+n); end > i+n {
					out = append(out, plaintext.Span{Start: i, End: end})
					i = end
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return out
}

// TopicTag makes a post's tag a Threads topic tag: 1 to 50 characters,
// without periods or ampersands (developers.facebook.com/docs/threads/posts,
// "Topic tags"). Spaces are allowed. A '#' in front is dropped, '&'
// becomes "and" and a period is left out; a longer tag is cut at a word.
// It returns "" when nothing is left.
func TopicTag(tag string) string {
	t := strings.TrimLeft(strings.TrimSpace(tag), "#＃")
	t = strings.ReplaceAll(t, "&", " and ")
	t = strings.ReplaceAll(t, ".", "")
	t = plaintext.OneLine(t)
	if utf8.RuneCountInString(t) <= maxTopicTag {
		return t
	}
	r := []rune(t)[:maxTopicTag]
	if i := strings.LastIndex(string(r), " "); i > 0 && utf8.RuneCountInString(string(r)[:i]) >= maxTopicTag/2 {
		return string(r)[:i]
	}
	return strings.TrimSpace(string(r))
}
