package graphapi

import (
	"net/url"
	"strings"

	"github.com/crierhq/crier/config/secret"
)

// ValidBase reports whether s is usable as Options.Base: a Graph API host
// (https://graph.facebook.com), without a version, path or query.
func ValidBase(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && strings.Trim(u.Path, "/") == ""
}

// PlausibleToken reports whether a set token looks like a Meta access
// token (long, no white space), so a config error can say so without
// printing it.
func PlausibleToken(tok secret.Secret) bool {
	s := tok.Reveal()
	return len(s) >= 20 && !strings.ContainsAny(s, " \t\n")
}
