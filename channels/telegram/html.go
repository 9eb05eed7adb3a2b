package telegram

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// tok is one piece of a message in Telegram's HTML: visible text, or a tag
// opening or closing. Keeping tags apart from text lets a message be
// measured as Telegram measures it (the text after entity parsing) and cut
// anywhere without leaving a tag open.
type tok struct {
	text  string // visible text, escaped on output
	open  string // a tag opened: "b", "i", "s", "code", "pre", "blockquote", "tg-spoiler", "a"
	href  string // an a tag's address
	close bool   // closes the innermost open tag
}

func plain(s string) tok   { return tok{text: s} }
func open(tag string) tok  { return tok{open: tag} }
func link(href string) tok { return tok{open: "a", href: href} }
func closeTag() tok        { return tok{close: true} }
func wrap(tag string, in []tok) []tok {
	if len(in) == 0 {
		return nil
	}
	return append(append([]tok{open(tag)}, in...), closeTag())
}

// render writes toks as Telegram HTML: <, > and & escaped in text (and "
// in addresses), as the Bot API's HTML style requires.
func render(toks []tok) string {
	var b strings.Builder
	var stack []string
	for _, t := range toks {
		switch {
		case t.open == "a":
			b.WriteString(`<a href="` + html.EscapeString(t.href) + `">`)
			stack = append(stack, "a")
		case t.open != "":
			b.WriteString("<" + t.open + ">")
			stack = append(stack, t.open)
		case t.close:
			b.WriteString("</" + stack[len(stack)-1] + ">")
			stack = stack[:len(stack)-1]
		default:
			b.WriteString(escape(t.text))
		}
	}
	return b.String()
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escape makes s plain text in Telegram's HTML.
func escape(s string) string { return escaper.Replace(s) }

// units counts s as Telegram's limits do: UTF-16 code units.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // ranging yields U+FFFD for invalid bytes: never -1
	}
	return n
}

// length is the message's length after entity parsing: its visible text.
func length(toks []tok) int {
	n := 0
	for _, t := range toks {
		n += units(t.text)
	}
	return n
}

const ellipsis = "…"

// cut splits toks where its visible text reaches budget units: head, with
// an ellipsis and every tag closed, fits budget; tail reopens the tags
// open at the cut and holds the rest. It cuts after a word where it can,
// else between characters. ok is false when toks fit whole (head is toks).
func cut(toks []tok, budget int) (head, tail []tok, ok bool) {
	if length(toks) <= budget {
		return toks, nil, false
	}
	room := budget - units(ellipsis)
	var stack []tok
	used, at, split := 0, len(toks), ""
	rest := ""
	for i, t := range toks {
		if t.open != "" {
			stack = append(stack, t)
			continue
		}
		if t.close {
			stack = stack[:len(stack)-1]
			continue
		}
		if used+units(t.text) <= room {
			used += units(t.text)
			continue
		}
		split, rest = cutText(t.text, room-used, used > 0)
		at = i
		break
	}
	head = append(head, toks[:at]...)
	if split != "" {
		head = append(head, plain(split))
	}
	head = trimEnd(head)
	head = append(head, plain(ellipsis))
	for range stack {
		head = append(head, closeTag())
	}
	tail = append(tail, stack...)
	if rest = strings.TrimLeftFunc(rest, unicode.IsSpace); rest != "" {
		tail = append(tail, plain(rest))
	}
	return head, append(tail, toks[at+1:]...), true
}

// cutText splits s after its last word that fits room units; when no word
// fits and an earlier token does (wordy), nothing of s is kept, else s is
// cut between characters.
func cutText(s string, room int, wordy bool) (keep, rest string) {
	n, end, lastSpace := 0, 0, -1
	for i, r := range s {
		if n+utf16.RuneLen(r) > room {
			break
		}
		n += utf16.RuneLen(r)
		end = i + utf8.RuneLen(r)
		if unicode.IsSpace(r) {
			lastSpace = i
		}
	}
	switch {
	case end < len(s) && lastSpace >= 0:
		return s[:lastSpace], s[lastSpace:]
	case end < len(s) && wordy:
		return "", s
	}
	return s[:end], s[end:]
}

// trimEnd drops trailing spaces and a dangling punctuation of the last
// text before an ellipsis.
func trimEnd(toks []tok) []tok {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].open != "" || toks[i].close {
			continue
		}
		toks[i].text = strings.TrimRightFunc(toks[i].text, func(r rune) bool {
			return unicode.IsSpace(r) || r == ',' || r == ';' || r == ':'
		})
		return toks
	}
	return toks
}
