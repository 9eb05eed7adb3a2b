// Package redact provides the log redaction that keeps mail addresses out
// of Crier's logs: subscribers are logged by id, and an error that quotes an
// address (an SMTP reply, a store error naming the address it was asked
// about) has the address replaced.
package redact

import (
	"fmt"
	"log/slog"
	"regexp"
)

// Placeholder replaces every address.
const Placeholder = "[address]"

// address matches mail addresses, internationalised ones included: a dotted
// domain whose last label starts with a letter (so module@v1.2.3 is not
// one), and a local part without quotes, slashes or = (which surround
// addresses in log text far more often than they are part of one).
var address = regexp.MustCompile(`[\p{L}\p{N}._%+!#$&*?^{|}~-]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+\p{L}[\p{L}\p{N}-]*[\p{L}\p{N}]`)

// Addresses returns s with every mail address replaced by Placeholder.
func Addresses(s string) string {
	if !containsAt(s) {
		return s
	}
	return address.ReplaceAllString(s, Placeholder)
}

func containsAt(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			return true
		}
	}
	return false
}

// Attr is a slog.HandlerOptions.ReplaceAttr that redacts addresses in the
// message and in every string, error or other value logged.
func Attr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); containsAt(s) {
			a.Value = slog.StringValue(Addresses(s))
		}
	case slog.KindAny:
		var s string
		switch v := a.Value.Any().(type) {
		case error:
			s = v.Error()
		case fmt.Stringer:
			s = v.String()
		case []byte:
			s = string(v)
		default:
			s = fmt.Sprint(v)
		}
		if containsAt(s) {
			a.Value = slog.StringValue(Addresses(s))
		}
	}
	return a
}
