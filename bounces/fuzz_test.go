package bounces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse holds the parser to never panicking, to never inventing a
// recipient (every address it reports is written in the message), and to
// explaining every recipient. Seeds: the whole vendored corpus, and the
// inputs under testdata/fuzz/FuzzParse that once found a bug.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/bsd/*.eml")
	for _, file := range files {
		if raw, err := os.ReadFile(file); err == nil {
			f.Add(raw)
		}
	}
	f.Add([]byte("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@b.c\r\nAction: failed\r\nStatus: 5.1.1\r\n--x--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rep, err := Parse(raw)
		if err != nil {
			return
		}
		lower := strings.ToLower(rep.text)
		for _, r := range rep.Recipients {
			if r.Address == "" || !strings.Contains(lower, r.Address) {
				t.Fatalf("recipient %q is not in the message", r.Address)
			}
			// Every line of a report says what it is and why.
			if (rep.Kind == KindBounce || rep.Kind == KindDelay) && (r.Class == "" || r.Rule == "") {
				t.Fatalf("recipient %+v has no class or rule", r)
			}
			if r.Hard != (r.Class == ClassHard) {
				t.Fatalf("recipient %+v: Hard and Class disagree", r)
			}
		}
		if rep.Kind == KindDelay && rep.ClassFor("x@y.example") == ClassHard {
			t.Fatal("a delay read as hard")
		}
	})
}

// FuzzAddresses holds the signed-address check to accepting only what
// Addresses made.
func FuzzAddresses(f *testing.F) {
	a, _ := NewAddresses("bounces@camaca.example", []byte("0123456789abcdef"))
	f.Add(a.ReturnPath("post:md:vigil", 42))
	f.Add(a.Unsubscribe(7))
	f.Add("bounces+u-7-aaaaaaaaaaaaaaaa@camaca.example")
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range a.findTokens(s) {
			var want string
			if tok.kind == 'u' {
				want = a.Unsubscribe(tok.id)
			} else {
				want = a.make('b', tok.sendHash, tok.id)
			}
			if !strings.Contains(strings.ToLower(s), want) {
				t.Fatalf("accepted %+v from %q, which does not contain %s", tok, s, want)
			}
		}
	})
}
