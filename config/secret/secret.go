// Package secret provides Secret, a string that never prints itself: not in
// logs, errors, JSON or the outbox.
package secret

import "log/slog"

// Secret holds a credential from the environment.
type Secret string

const redacted = "[redacted]"

// Reveal returns the credential, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the credential is non-empty.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps encoders (JSON, YAML) from writing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
