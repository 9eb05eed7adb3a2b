package subscribers

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrInvalid marks input that is not acceptable (a malformed address, a name
// with line breaks); the wrapped message says what is wrong with it.
var ErrInvalid = errors.New("invalid")

// Limits from RFC 5321 4.5.3.1: a path is at most 256 octets including the
// angle brackets, so an address at most 254; the local part at most 64.
const (
	maxEmailLen = 254
	maxLocalLen = 64
	maxLabelLen = 63
	maxNameLen  = 100 // characters; a display name, not an essay
	// maxRawLen bounds what is even looked at, so hostile input is refused
	// before any work is done on it.
	maxRawLen = 1024
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// NormalizeEmail returns the canonical form of a supporter's address: trimmed,
// lower-cased, with an internationalised domain in its ASCII (punycode) form.
//
// The whole address is lower-cased although RFC 5321 lets a server treat the
// local part as case-sensitive: no mainstream provider does, and keeping
// "Ann@x.org" and "ann@x.org" apart would send her two copies. Dots and
// "+tags" are kept: they are distinct addresses and supporters use tags to
// filter. Only the dot-atom form is accepted (no quoted local parts, comments
// or display names) and the local part must be ASCII, because many SMTP
// relays still refuse SMTPUTF8.
func NormalizeEmail(s string) (string, error) {
	if len(s) > maxRawLen {
		return "", invalid("address is %d bytes long; at most %d are allowed", len(s), maxEmailLen)
	}
	if !utf8.ValidString(s) {
		return "", invalid("address is not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("address is empty")
	}
	for _, r := range s {
		if r == '\r' || r == '\n' {
			return "", invalid("address contains a line break")
		}
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", invalid("address contains a space or control character (%U)", r)
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", invalid("address %q has no @", s)
	}
	local, domain := s[:at], s[at+1:]
	if strings.Contains(local, "@") {
		return "", invalid("address %q has more than one @", s)
	}
	if err := checkLocal(local); err != nil {
		return "", err
	}
	domain, err := normalizeDomain(domain)
	if err != nil {
		return "", err
	}
	out := strings.ToLower(local) + "@" + domain
	if len(out) > maxEmailLen {
		return "", invalid("address is %d characters long; at most %d are allowed", len(out), maxEmailLen)
	}
	return out, nil
}

// atext is RFC 5322's set of characters allowed in a dot-atom, besides
// letters and digits.
const atext = "!#$%&'*+-/=?^_`{|}~"

func checkLocal(local string) error {
	switch {
	case local == "":
		return invalid("address has nothing before the @")
	case len(local) > maxLocalLen:
		return invalid("the part before the @ is %d characters long; at most %d are allowed", len(local), maxLocalLen)
	case strings.HasPrefix(local, "."), strings.HasSuffix(local, "."), strings.Contains(local, ".."):
		return invalid("the part before the @ may not start or end with a dot or have two dots in a row")
	case strings.EqualFold(local, "mailto:"), strings.HasPrefix(strings.ToLower(local), "mailto:"):
		return invalid("address starts with mailto:; give the bare address")
	}
	for _, r := range local {
		switch {
		case r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || strings.ContainsRune(atext, r)):
		case r >= 0x80:
			return invalid("the part before the @ contains %q; only ASCII is accepted there", r)
		default:
			return invalid("the part before the @ contains %q, which is not allowed in an address", r)
		}
	}
	return nil
}

func normalizeDomain(domain string) (string, error) {
	if domain == "" {
		return "", invalid("address has no domain after the @")
	}
	if strings.HasPrefix(domain, "[") {
		return "", invalid("address literals such as %q are not accepted", domain)
	}
	domain = strings.TrimSuffix(domain, ".")
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", invalid("domain %q is not a valid host name", domain)
	}
	ascii = strings.ToLower(ascii)
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", invalid("domain %q has no dot; a full domain such as example.org is needed", domain)
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return "", invalid("domain %q has an empty or over-long part", domain)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "", invalid("domain %q has a part that starts or ends with a hyphen", domain)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", invalid("domain %q contains %q, which is not allowed in a host name", domain, c)
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return "", invalid("domain %q ends in a number; IP addresses are not accepted", domain)
	}
	return ascii, nil
}

// NormalizeName trims a supporter's display name and refuses anything that
// could break out of a mail header (line breaks and other control
// characters) or is unreasonably long.
func NormalizeName(s string) (string, error) {
	if len(s) > maxRawLen {
		return "", invalid("name is %d bytes long; at most %d characters are allowed", len(s), maxNameLen)
	}
	if !utf8.ValidString(s) {
		return "", invalid("name is not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	for _, r := range s {
		if r == '\r' || r == '\n' {
			return "", invalid("name contains a line break")
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", invalid("name contains a control character (%U)", r)
		}
	}
	if n := utf8.RuneCountInString(s); n > maxNameLen {
		return "", invalid("name is %d characters long; at most %d are allowed", n, maxNameLen)
	}
	return strings.Join(strings.Fields(s), " "), nil
}

// normalizeLists trims, lower-cases and de-duplicates list names, keeping
// their order.
func normalizeLists(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, l := range in {
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" || seen[l] {
			continue
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return nil, invalid("list name %q may only contain letters, digits, '-', '_' and '.'", l)
			}
		}
		if len(l) > 64 {
			return nil, invalid("list name %q is longer than 64 characters", l)
		}
		seen[l] = true
		out = append(out, l)
	}
	return out, nil
}

// normalizeLanguage checks a language code such as "fr" or "pt-BR" (letters,
// digits and '-', at most 35 characters) and lower-cases it.
func normalizeLanguage(l string) (string, error) {
	l = strings.ToLower(strings.TrimSpace(l))
	if len(l) > 35 {
		return "", invalid("language %q is longer than 35 characters", l)
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "", invalid("language %q is not a language code such as fr or pt-br", l)
		}
	}
	return l, nil
}
