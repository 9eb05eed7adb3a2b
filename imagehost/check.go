package imagehost

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

	"github.com/crierhq/crier/contentfetch"
)

// setIt is the end of every refusal: what to do about it.
const setIt = "set http.public_url to the https address where the internet reaches this Crier (for example https://crier.your-charity.org.uk, behind a proxy that holds its certificate)"

// localSuffixes are names Meta cannot reach, with why: only a local network
// knows them, or they are outside the DNS.
var localSuffixes = []struct{ suffix, why string }{
	{"localhost", "a name only your own network knows"},
	{"local", "a name only your own network knows"},
	{"internal", "a name only your own network knows"},
	{"lan", "a name only your own network knows"},
	{"home.arpa", "a name only your own network knows"},
	{"localdomain", "a name only your own network knows"},
	{"onion", "a Tor onion service, which Meta's servers do not reach"},
	{"alt", "under .alt, a name outside the DNS (RFC 9476)"},
}

// documentation are the ranges reserved for examples (RFC 5737, RFC 3849,
// RFC 9637), which no network routes; contentfetch does not list them, as
// fetching from them fails by itself.
var documentation = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
}

// checkPublicURL says why Meta could not fetch pictures from under raw, or
// nil. Only the address is read: no name is looked up, since a name's
// answer here says nothing of what Meta's servers get.
func checkPublicURL(raw string, allowNonPublic bool) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("Instagram and Threads fetch a post's picture from Crier, but http.public_url is empty: " + setIt)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("http.public_url %q is not an address like https://crier.example.org: %s", raw, setIt)
	}
	if why := badShape(raw, u); why != "" {
		return fmt.Errorf("http.public_url %s %s: %s", raw, why, setIt)
	}
	if allowNonPublic {
		return nil
	}
	if u.Scheme != "https" {
		return fmt.Errorf("http.public_url %s is not https, and Meta fetches pictures only over https: %s", raw, setIt)
	}
	if why := nonPublicHost(u.Hostname()); why != "" {
		return fmt.Errorf("http.public_url %s cannot be reached from the internet (%s), so Meta could not fetch the pictures: %s", raw, why, setIt)
	}
	return nil
}

// badShape says what in u keeps it from being the start of a picture's
// address, or "": a picture's address is u + "/hosted/<id>.<ext>", so a
// query or fragment would swallow that, and a password would be given out.
func badShape(raw string, u *url.URL) string {
	switch {
	case u.User != nil:
		return "has a user name or password in it, which every picture's address would give out"
	case u.RawQuery != "" || u.ForceQuery:
		return "has a query (?…), which would end up in the middle of every picture's address"
	case strings.Contains(raw, "#"):
		return "has a fragment (#…), which would cut every picture's address short"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > math.MaxUint16 {
			return fmt.Sprintf("has the port %s, which is not a port (1 to 65535)", p)
		}
	}
	return ""
}

// nonPublicHost says why host is not reachable from the internet, or "".
// It reads host as a resolver would: an IPv6 literal; else mapped to
// lower-case ASCII (IDNA, so a fullwidth ｌｏｃａｌ is local) without trailing
// dots; a name whose last label is a number is an IPv4 address in any of
// the forms inet_aton takes (127.1, 0x7f.0.0.1, 0177.0.0.1, 2130706433).
func nonPublicHost(host string) string {
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return host + " is not an IP address"
		}
		return nonPublicAddr(host, a)
	}
	h, err := idna.Lookup.ToASCII(host)
	h = strings.TrimRight(h, ".")
	if err != nil || h == "" || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return host + " is not a host name"
	}
	if labels := strings.Split(h, "."); numeric(labels[len(labels)-1]) {
		a, ok := parseIPv4(labels)
		if !ok {
			return host + " ends in a number but is not an IPv4 address"
		}
		if why := nonPublicAddr(host, a); why != "" {
			return why
		}
		if host != a.String() {
			return fmt.Sprintf("%s is the IPv4 address %s written in a form not every fetcher reads: write %s", host, a, a)
		}
		return ""
	}
	for _, s := range localSuffixes {
		if h == s.suffix || strings.HasSuffix(h, "."+s.suffix) {
			return host + " is " + s.why
		}
	}
	if !strings.Contains(h, ".") {
		return fmt.Sprintf("%s is a single name, known only on your own network", host)
	}
	return contentfetch.ReservedName(h)
}

// nonPublicAddr says why a, written host, is not reachable from the
// internet, or "".
func nonPublicAddr(host string, a netip.Addr) string {
	a = a.Unmap()
	if why := contentfetch.NonPublic(a); why != "" {
		return host + " is " + why
	}
	for _, p := range documentation {
		if p.Contains(a) {
			return host + " is a documentation address, which no network routes"
		}
	}
	if b := a.As16(); a.Is6() && [12]byte(b[:12]) == [12]byte{} {
		// ::127.0.0.1, the deprecated IPv4-compatible form (RFC 4291).
		if why := nonPublicAddr(host, netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return why
		}
		return host + " is an IPv4-compatible IPv6 address, a form no longer routed: write the IPv4 address"
	}
	return ""
}

// numeric reports whether a label is written as a number (digits, or 0x
// and hex digits), so that the name is meant as an IPv4 address, whatever
// the number's size, as the URL standard reads a host ending in one.
func numeric(label string) bool {
	digits := "0123456789"
	if len(label) >= 2 && (label[:2] == "0x" || label[:2] == "0X") {
		digits, label = "0123456789abcdefABCDEF", label[2:]
	}
	return strings.Trim(label, digits) == "" && (label != "" || digits != "0123456789")
}

// parseIPv4 reads labels as inet_aton does: a.b.c.d, a.b.c (c is 16 bits),
// a.b (b is 24 bits) or a (32 bits), each part decimal, octal or hex.
func parseIPv4(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, l := range labels {
		n, ok := inetNumber(l)
		last := i == len(labels)-1
		if !ok || (!last && n > 0xff) || (last && n>>(8*(5-len(labels))) != 0) {
			return netip.Addr{}, false
		}
		if last {
			v = v<<(8*(5-len(labels))) | n
		} else {
			v = v<<8 | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// inetNumber reads one part of an inet_aton address.
func inetNumber(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" || len(s) > 12 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}
