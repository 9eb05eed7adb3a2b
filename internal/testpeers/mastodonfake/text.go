package mastodonfake

import (
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// This file is the fake's own reading of status text, written apart from
// channels/mastodon on purpose: the fake must not share a bug with the code
// it tests. It follows Mastodon's StatusLengthValidator (what counts) and
// TextFormatter (what the HTML looks like) in outline.

type entityKind int

const (
	kindURL entityKind = iota
	kindMention
	kindHashtag
)

type textEntity struct {
	kind       entityKind
	start, end int    // byte offsets in the text
	value      string // the URL, "user" or "user@domain", or the tag
}

// urlStartRE finds http(s) URLs: twitter-text (with
// extract_url_without_protocol off) wants a scheme, not preceded by a letter,
// digit, @, $ or #.
var urlStartRE = regexp.MustCompile(`(?i)https?://`)

// mentionRE is Account::MENTION_RE (Mastodon 4.3) without its look-behind
// (checked by hand): the domain is [[:word:]] runs joined by dots or hyphens.
var mentionRE = regexp.MustCompile(`^@((?i)[a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@([\p{L}\p{M}\p{Nd}\p{Pc}]+(?:[.-]+[\p{L}\p{M}\p{Nd}\p{Pc}]+)*))?`)

// hashtagRE is Tag::HASHTAG_RE in outline: word characters with at least one
// letter.
var hashtagRE = regexp.MustCompile(`^#([\p{L}\p{M}\p{N}_]*[\p{L}_][\p{L}\p{M}\p{N}_]*)`)

func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_'
}

// extract returns the URLs, mentions and hashtags of text, in order and
// without overlaps (the earlier one wins, as Extractor.remove_overlapping_entities).
func extract(text string) []textEntity {
	var all []textEntity
	for _, loc := range urlStartRE.FindAllStringIndex(text, -1) {
		if prev, _ := utf8.DecodeLastRuneInString(text[:loc[0]]); loc[0] > 0 && (wordRune(prev) || strings.ContainsRune("@＠$#＃", prev)) {
			continue
		}
		// A URL needs a host: letters, digits, dots and hyphens, starting
		// with a letter or digit.
		host := loc[1]
		for host < len(text) {
			r, n := utf8.DecodeRuneInString(text[host:])
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || (host > loc[1] && (unicode.IsMark(r) || strings.ContainsRune("-._", r)))) {
				break
			}
			host += n
		}
		if host == loc[1] {
			continue
		}
		end := host
		for end < len(text) {
			r, n := utf8.DecodeRuneInString(text[end:])
			if unicode.IsSpace(r) || strings.ContainsRune(`<>"`, r) || (r > 0x7f && !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)) {
				break
			}
			end += n
		}
		// Trailing punctuation ends a sentence, not the URL; a closing
		// bracket stays only when it closes one in the URL.
		for end > loc[1] {
			c := text[end-1]
			if strings.IndexByte(".,:;!?'*", c) >= 0 ||
				c == ')' && strings.Count(text[loc[0]:end], "(") < strings.Count(text[loc[0]:end], ")") ||
				c == ']' && strings.Count(text[loc[0]:end], "[") < strings.Count(text[loc[0]:end], "]") {
				end--
				continue
			}
			break
		}
		if end == loc[1] {
			continue // a scheme without a host
		}
		all = append(all, textEntity{kindURL, loc[0], end, text[loc[0]:end]})
	}
	for i, r := range text {
		if r != '@' && r != '#' {
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		if i > 0 && (wordRune(prev) || prev == '=' || prev == '/' || (r == '#' && (prev == ')' || prev == '&'))) {
			continue
		}
		if r == '@' {
			if m := mentionRE.FindStringSubmatchIndex(text[i:]); m != nil {
				all = append(all, textEntity{kindMention, i, i + m[1], text[i+1 : i+m[1]]})
			}
			continue
		}
		if m := hashtagRE.FindStringSubmatchIndex(text[i:]); m != nil {
			all = append(all, textEntity{kindHashtag, i, i + m[1], text[i+m[2] : i+m[3]]})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].start < all[b].start })
	var out []textEntity
	for _, e := range all {
		if len(out) > 0 && e.start < out[len(out)-1].end {
			continue
		}
		out = append(out, e)
	}
	return out
}

// StatusLength is Mastodon's StatusLengthValidator: grapheme clusters of the
// content warning followed by the text, in which every URL counts as
// urlLength characters and a remote mention @user@domain as @user.
func StatusLength(spoiler, text string, urlLength int) int {
	var b strings.Builder
	b.WriteString(spoiler)
	if strings.TrimSpace(text) != "" {
		last := 0
		for _, e := range extract(text) {
			switch e.kind {
			case kindURL:
				b.WriteString(text[last:e.start])
				b.WriteString(strings.Repeat("x", urlLength))
			case kindMention:
				b.WriteString(text[last:e.start])
				user, _, _ := strings.Cut(e.value, "@")
				b.WriteString("@" + user)
			default:
				continue
			}
			last = e.end
		}
		b.WriteString(text[last:])
	}
	return uniseg.GraphemeClusterCount(b.String())
}

var (
	linkPrefixRE = regexp.MustCompile(`(?i)^https?://(www\.)?`)
	paragraphRE  = regexp.MustCompile(`\n{2,}`)
)

// shortenedLink is TextFormatter.shortened_link: the scheme (and www.)
// hidden, 30 characters shown, the rest hidden behind an ellipsis.
func shortenedLink(u string) string {
	prefix := linkPrefixRE.FindString(u)
	rest := []rune(u[len(prefix):])
	display, suffix, class := string(rest), "", ""
	if len(rest) > 30 {
		display, suffix, class = string(rest[:30]), string(rest[30:]), "ellipsis"
	}
	return fmt.Sprintf(`<a href="%s" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">%s</span><span class="%s">%s</span><span class="invisible">%s</span></a>`,
		html.EscapeString(u), html.EscapeString(prefix), class, html.EscapeString(display), html.EscapeString(suffix))
}

// Render is the HTML Mastodon at base would give text, known telling which
// mentioned accounts (user, and domain or "") it knows.
func Render(base, text string, known func(user, domain string) bool) string {
	return render(base, text, known).html
}

// rendered is a status's HTML with the tags and mentions Mastodon lists
// beside it.
type rendered struct {
	html     string
	tags     []string
	mentions []string // usernames of known accounts mentioned
}

// render turns status text into HTML the way Mastodon's TextFormatter does:
// paragraphs at blank lines, <br /> at newlines, links shortened, hashtags
// linked to /tags/, mentions of accounts known to the instance linked and
// the others left as plain text.
func render(base, text string, known func(user, domain string) bool) rendered {
	var out rendered
	var b strings.Builder
	last := 0
	for _, e := range extract(text) {
		var link string
		switch e.kind {
		case kindURL:
			link = shortenedLink(e.value)
		case kindHashtag:
			link = fmt.Sprintf(`<a href="%s/tags/%s" class="mention hashtag" rel="tag">#<span>%s</span></a>`,
				base, html.EscapeString(strings.ToLower(e.value)), html.EscapeString(e.value))
			out.tags = append(out.tags, e.value)
		case kindMention:
			user, domain, _ := strings.Cut(e.value, "@")
			if !known(user, domain) {
				continue
			}
			link = fmt.Sprintf(`<span class="h-card" translate="no"><a href="%s/@%s" class="u-url mention">@<span>%s</span></a></span>`,
				base, html.EscapeString(user), html.EscapeString(user))
			out.mentions = append(out.mentions, user)
		}
		b.WriteString(html.EscapeString(text[last:e.start]))
		b.WriteString(link)
		last = e.end
	}
	b.WriteString(html.EscapeString(text[last:]))
	var paras []string
	for _, p := range paragraphRE.Split(strings.TrimSpace(b.String()), -1) {
		paras = append(paras, "<p>"+strings.ReplaceAll(p, "\n", "<br />")+"</p>")
	}
	out.html = strings.Join(paras, "")
	return out
}
