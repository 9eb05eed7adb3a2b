package redact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"erasing subscriber ada@example.org: database is locked":                           "erasing subscriber [address]: database is locked",
		`RCPT TO: 450 "4.2.0 <Ada.Lovelace+news@Example.ORG>: Recipient address rejected"`: `RCPT TO: 450 "4.2.0 <[address]>: Recipient address rejected"`,
		"zoë@exämple.org and bob@mail.example.co.uk":                                       "[address] and [address]",
		"to=ada@example.org,":                     "to=[address],",
		"subscriber 42 confirmed":                 "subscriber 42 confirmed",
		"go.uber.org/goleak@v1.3.0 is not a mail": "go.uber.org/goleak@v1.3.0 is not a mail",
	} {
		if got := Addresses(in); got != want {
			t.Errorf("Addresses(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLoggerRedacts: addresses in the message, in strings, in errors (also
// wrapped, and in attributes given to With) never reach the output, in text
// or JSON.
func TestLoggerRedacts(t *testing.T) {
	for _, mk := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{ReplaceAttr: Attr})
		},
		func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{ReplaceAttr: Attr})
		},
	} {
		var buf bytes.Buffer
		log := slog.New(mk(&buf)).With("to", "ada@example.org")
		err := fmt.Errorf("sending: %w", errors.New("550 <ada@example.org> unknown"))
		log.Info("mail for ada@example.org", "err", err, "addr", []byte("ada@example.org"), "n", 3)
		log.WithGroup("g").Warn("x", "who", "ada@example.org")
		if strings.Contains(buf.String(), "ada@example.org") {
			t.Fatalf("address logged:\n%s", buf.String())
		}
		if !strings.Contains(buf.String(), Placeholder) || !strings.Contains(buf.String(), "550") {
			t.Fatalf("redaction lost the rest:\n%s", buf.String())
		}
	}
}

// FuzzAddresses: redacting leaves no address behind, twice is once, and
// text without an @ is untouched.
func FuzzAddresses(f *testing.F) {
	for _, s := range []string{"ada@example.org", "RCPT TO: 450 <a.b+c@x.example.co.uk>: greylisted", "no address", "a@b@c.org", "x@y.z", "@@", "zoë@exämple.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Addresses(s)
		if address.MatchString(out) {
			t.Fatalf("Addresses(%q) = %q still holds an address", s, out)
		}
		if again := Addresses(out); again != out {
			t.Fatalf("not idempotent: %q then %q", out, again)
		}
		if !strings.Contains(s, "@") && out != s {
			t.Fatalf("changed text without an @: %q -> %q", s, out)
		}
	})
}
