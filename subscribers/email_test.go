package subscribers

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string // substring of the error; empty means no error
	}{
		{in: "ann@example.org", want: "ann@example.org"},
		{in: "  Ann.Lee+News@Example.ORG\t", want: "ann.lee+news@example.org"},
		{in: "ann@example.org.", want: "ann@example.org"},
		{in: "o'brien@example.ie", want: "o'brien@example.ie"},
		{in: "=cmd@example.org", want: "=cmd@example.org"},
		{in: "anna@bücher.de", want: "anna@xn--bcher-kva.de"},
		{in: "", wantErr: "empty"},
		{in: "   ", wantErr: "empty"},
		{in: "ann", wantErr: "no @"},
		{in: "ann@", wantErr: "no domain"},
		{in: "@example.org", wantErr: "nothing before the @"},
		{in: "a@b@example.org", wantErr: "more than one @"},
		{in: "ann@localhost", wantErr: "no dot"},
		{in: "ann@[192.0.2.1]", wantErr: "literals"},
		{in: "ann@192.0.2.1", wantErr: "ends in a number"},
		{in: "ann@-bad.org", wantErr: "not a valid host name"},
		{in: "ann@exa_mple.org", wantErr: "not"},
		{in: "ann@exa..mple.org", wantErr: "empty"},
		{in: ".ann@example.org", wantErr: "dot"},
		{in: "an..n@example.org", wantErr: "dot"},
		{in: "ann.@example.org", wantErr: "dot"},
		{in: `"ann lee"@example.org`, wantErr: "space"},
		{in: `"ann"@example.org`, wantErr: `'"'`},
		{in: "Ann <ann@example.org>", wantErr: "space"},
		{in: "ann@example.org\r\nBcc: victim@example.org", wantErr: "line break"},
		{in: "ann@example.org\nBcc: victim@example.org", wantErr: "line break"},
		{in: "ann@example.org%0d%0abcc:x@y.z", wantErr: "more than one @"},
		{in: "ann\x00@example.org", wantErr: "control"},
		{in: "ann@exam\x7fple.org", wantErr: "control"},
		{in: "ann,bob@example.org", wantErr: `','`},
		{in: "ann;bob@example.org", wantErr: `';'`},
		{in: "jürgen@example.de", wantErr: "only ASCII"},
		{in: "mailto:ann@example.org", wantErr: "mailto:"},
		{in: "ann@exam ple.org", wantErr: "space"},
		{in: "ann\u00a0@example.org", wantErr: "space"},
		{in: "\xff\xfe@example.org", wantErr: "UTF-8"},
		{in: strings.Repeat("a", 65) + "@example.org", wantErr: "at most 64"},
		{in: "a@" + strings.Repeat("b", 64) + ".org", wantErr: "over-long"},
		{in: "a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "org", wantErr: "at most 254"},
		{in: strings.Repeat("x", 1<<20), wantErr: "at most 254"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			got, err := NormalizeEmail(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NormalizeEmail(%q) = %q, want an error containing %q", tt.in, got, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NormalizeEmail(%q) error %q, want ErrInvalid containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "  Ann   Lee ", want: "Ann Lee"},
		{in: "Zoë Ó Súilleabháin", want: "Zoë Ó Súilleabháin"},
		{in: "", want: ""},
		{in: "Bob\r\nBcc: victim@example.org", bad: true},
		{in: "Bob\nSubject: hi", bad: true},
		{in: "Bob\u2028Bcc: x", bad: true},
		{in: "Bob\x00", bad: true},
		{in: "=?utf-8?q?Bob=0D=0ABcc:x?=", want: "=?utf-8?q?Bob=0D=0ABcc:x?="}, // inert text: the mailer encodes names itself
		{in: strings.Repeat("é", 101), bad: true},
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		if tt.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("NormalizeName(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ann@example.org", "A@B.C", "a@bücher.de", "a\r\n@b.c", `"a"@b.c`, "a@[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		// A normalised address is stable, short and safe in a header.
		if again, err := NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
		if len(got) > maxEmailLen || strings.ContainsAny(got, "\r\n\x00 <>,;\"") {
			t.Fatalf("unsafe result %q from %q", got, s)
		}
	})
}
