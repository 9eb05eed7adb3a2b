package imagehost

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/crierhq/crier/contentfetch"
)

// setIt is the end of every refusal: what to do about it.
const setIt = "set http.public_url to the https address where the internet reaches this Crier (for example https://crier.your-charity.org.uk, behind a proxy that holds its certificate)"

// localSuffixes are names only a local network knows, so Meta cannot
// reach them.
var localSuffixes = []string{"localhost", "local", "internal", "lan", "home.arpa", "localdomain"}

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

// nonPublicHost says why host is not reachable from the internet, or "".
func nonPublicHost(host string) string {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if a, err := netip.ParseAddr(h); err == nil {
		if why := contentfetch.NonPublic(a.Unmap()); why != "" {
			return h + " is " + why
		}
		return ""
	}
	for _, s := range localSuffixes {
		if h == s || strings.HasSuffix(h, "."+s) {
			return fmt.Sprintf("%s is a name only your own network knows", host)
		}
	}
	if !strings.Contains(h, ".") {
		return fmt.Sprintf("%s is a single name, known only on your own network", host)
	}
	return contentfetch.ReservedName(h)
}
