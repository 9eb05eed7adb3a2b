package mastodon

import (
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// fingerprint is what identifies a status's text whether it is read from
// what Crier composed or from the HTML the server renders: the words (all
// white space removed, since servers turn newlines into <br> and <p>) without
// links and mentions (servers shorten their display text), and the links.
type fingerprint struct {
	words string
	links []string
}

func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func fingerprintText(text string) fingerprint {
	words, links := withoutLinksAndMentions(text)
	return fingerprint{words: words, links: links}
}

// withoutLinksAndMentions returns text's words without its URLs and
// mentions (hashtags stay), and the URLs.
func withoutLinksAndMentions(text string) (words string, links []string) {
	var kept strings.Builder
	last := 0
	for _, e := range entities(text) {
		if e.kind == entityHashtag {
			continue
		}
		kept.WriteString(text[last:e.start])
		last = e.end
		if e.kind == entityURL {
			links = append(links, text[e.start:e.end])
		}
	}
	kept.WriteString(text[last:])
	return squash(kept.String()), links
}

// fingerprintHTML reads a status's content as rendered by Mastodon or
// GoToSocial: hashtag links keep their text, other links and mentions are
// recorded by their href only.
func fingerprintHTML(content string) (words string, links []string) {
	z := html.NewTokenizer(strings.NewReader(content))
	var b strings.Builder
	skip := 0 // depth inside a link or mention whose text is left out
	for {
		switch z.Next() {
		case html.ErrorToken:
			// A mention of an account the server does not know (and a URL
			// it did not link) stays plain text: leave it out here as
			// fingerprintText does, or the two never match.
			words, plain := withoutLinksAndMentions(b.String())
			return words, append(links, plain...)
		case html.SelfClosingTagToken: // <br />
			if skip == 0 {
				b.WriteByte('\n')
			}
		case html.StartTagToken:
			tok := z.Token()
			if skip == 0 && (tok.Data == "br" || tok.Data == "p") {
				// A line or paragraph break ends a plain-text mention, as
				// it does in the text.
				b.WriteByte('\n')
			}
			if tok.Data != "a" {
				if skip > 0 {
					skip++
				}
				continue
			}
			var href, class string
			for _, a := range tok.Attr {
				switch a.Key {
				case "href":
					href = a.Val
				case "class":
					class = a.Val
				}
			}
			if skip > 0 {
				skip++
				continue
			}
			if strings.Contains(class, "hashtag") {
				continue
			}
			if !strings.Contains(class, "mention") {
				links = append(links, href)
			}
			skip = 1
		case html.EndTagToken:
			if skip > 0 {
				skip--
			}
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}

func containsAll(have, want []string) bool {
	set := map[string]bool{}
	for _, h := range have {
		set[h] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}
