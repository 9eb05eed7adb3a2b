package console

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzSlugify: a downloaded file's name is always a safe, short slug.
func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Vigil on Friday!", "", "../../etc/passwd", "Ünïcödé — titles", strings.Repeat("a-", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := slugify(s)
		if len(got) > 61 || strings.HasPrefix(got, "-") || strings.HasSuffix(got, "-") || !utf8.ValidString(got) {
			t.Fatalf("slugify(%q) = %q", s, got)
		}
		for _, r := range got {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("slugify(%q) = %q has %q", s, got, r)
			}
		}
	})
}

// FuzzParseWhen: any form value gives a time in the future or an error.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"2031-05-01T09:00", "2031-05-01T09:00:05", "", "2031-03-30T01:30", "yesterday", "2031-13-01T09:00"} {
		f.Add(s)
	}
	london, _ := time.LoadLocation("Europe/London")
	now := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &Console{opts: Options{Location: london, Now: func() time.Time { return now }}}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := c.parseWhen(s)
		if err == nil && !at.After(now) {
			t.Fatalf("parseWhen(%q) = %s, not in the future", s, at)
		}
		if err != nil && err.Error() == "" {
			t.Fatalf("parseWhen(%q): empty error", s)
		}
	})
}
