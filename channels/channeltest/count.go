package channeltest

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Graphemes counts user-perceived characters (Bluesky, Mastodon).
func Graphemes(s string) int { return uniseg.GraphemeClusterCount(s) }

// Runes counts code points (GoToSocial).
func Runes(s string) int { return utf8.RuneCountInString(s) }

// UTF16 counts UTF-16 code units (Discord's strictest reading).
func UTF16(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
