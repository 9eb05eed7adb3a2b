package discord

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/rivo/uniseg"
)

const ellipsis = "…"

// length counts s the way Discord's limits are checked, erring long: UTF-16
// code units, so an emoji outside the BMP counts twice rather than once.
func length(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // ranging yields U+FFFD for invalid bytes: never -1
	}
	return n
}

// allBreaks returns the word and the grapheme boundaries of s.
func allBreaks(s string) (word, fine []int) {
	state := -1
	rest := s
	pos := 0
	for len(rest) > 0 {
		var cluster string
		var b int
		cluster, rest, b, state = uniseg.StepString(rest, state)
		pos += len(cluster)
		fine = append(fine, pos)
		if lb := b & uniseg.MaskLine; lb == uniseg.LineCanBreak || lb == uniseg.LineMustBreak || len(rest) == 0 {
			word = append(word, pos)
		}
	}
	return word, fine
}

// fit renders raw and, when that is longer than limit, the longest prefix
// cut at a word boundary plus an ellipsis that fits. render must not make a
// prefix longer than the whole (escaping is per character).
func fit(raw string, limit int, render func(string) string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if s := render(raw); length(s) <= limit {
		return s, false
	}
	// Only a prefix up to the limit can fit (escaping only lengthens).
	if max := limit * 4; len(raw) > max {
		raw = raw[:max]
	}
	prefix := func(pos int) string {
		return strings.TrimRightFunc(raw[:pos], func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsPunct(r) && r != '.' && r != '!' && r != '?' && r != ')'
		})
	}
	word, fine := allBreaks(raw)
	// Between words if any word fits, else between characters (one long
	// word, or a first word longer than the limit).
	for _, cuts := range [][]int{word, fine} {
		n := sort.Search(len(cuts), func(i int) bool {
			return length(render(prefix(cuts[i])))+length(ellipsis) > limit
		})
		for i := n - 1; i >= 0; i-- {
			if p := prefix(cuts[i]); p != "" {
				return render(p) + ellipsis, true
			}
		}
	}
	return "", true
}

// escapeText makes plain text show as itself in Discord Markdown: Markdown
// punctuation is backslash-escaped, "<" cannot open a user, role, channel,
// emoji or timestamp mention, and @everyone/@here get a zero-width space so
// they neither ping nor render as a mention. lineStart escapes what would
// start a heading, list or quote.
func escapeText(s string, lineStart bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch r {
		case '\\', '*', '_', '~', '`', '|', '[', ']', '<', '>':
			b.WriteByte('\\')
		case '#', '-', '+':
			if lineStart && i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			if lineStart && i > 0 && isDigits(s[:i]) {
				b.WriteByte('\\')
			}
		case '@':
			b.WriteRune(r)
			rest := strings.ToLower(s[i+1:])
			if strings.HasPrefix(rest, "everyone") || strings.HasPrefix(rest, "here") {
				b.WriteString("\u200b")
			}
			continue
		case '\r', '\n', '\t', '\v', '\f':
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// plain is escapeText for one-line fields (title, author, field values).
func plain(s string) string { return escapeText(collapseSpace(s), false) }

// collapseSpace turns runs of whitespace (newlines included) into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
