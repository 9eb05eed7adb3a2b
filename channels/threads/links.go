package threads

import (
	"regexp"
	"strings"
)

// maxLinks is how many unique links Threads takes in a post: the URLs of
// its text, and its link attachment when it is another one (more fail
// with THREADS_API__LINK_LIMIT_EXCEEDED;
// developers.facebook.com/docs/threads/create-posts/text-attachments).
const maxLinks = 5

// linkish is what Threads reads as a URL in a text: an address with its
// scheme, or one starting www. (its own example).
var linkish = regexp.MustCompile(`(?i)(?:https?://|www\.)\S+`)

// limitLinks keeps the first maxLinks unique links of text, attachment
// (when set) counted first, and writes each further one as plain text
// that Threads does not link: without its scheme, its host's dots as
// "[.]" ("camaca[.]example/petition"). It returns the text and how many
// links it wrote so.
func limitLinks(text, attachment string) (string, int) {
	kept := map[string]bool{}
	if attachment != "" {
		kept[attachment] = true
	}
	plain := map[string]bool{}
	var b strings.Builder
	last := 0
	for _, at := range linkish.FindAllStringIndex(text, -1) {
		u := strings.TrimRight(text[at[0]:at[1]], ".,;:!?)")
		switch {
		case kept[u]:
			continue
		case len(kept) < maxLinks:
			kept[u] = true
			continue
		}
		plain[u] = true
		b.WriteString(text[last:at[0]])
		b.WriteString(unlinked(u))
		last = at[0] + len(u)
	}
	if len(plain) == 0 {
		return text, 0
	}
	b.WriteString(text[last:])
	return b.String(), len(plain)
}

// unlinked is u written so that Threads does not make it a link, never
// longer than u (the part still fits): without its scheme and "www.",
// every dot of the host bracketed, or only the last when that would be
// longer.
func unlinked(u string) string {
	low := strings.ToLower(u)
	rest := u
	for _, scheme := range []string{"https://", "http://"} {
		if strings.HasPrefix(low, scheme) {
			rest = u[len(scheme):]
			break
		}
	}
	if strings.HasPrefix(strings.ToLower(rest), "www.") {
		rest = rest[len("www."):] // the same site, shorter
	}
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	out := strings.ReplaceAll(host, ".", "[.]") + path
	if i := strings.LastIndexByte(host, '.'); len(out) > len(u) && i >= 0 {
		out = host[:i] + "[.]" + host[i+1:] + path
	}
	return out
}
