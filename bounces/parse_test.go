package bounces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Some real messages of testdata/bsd (sisimai's public set, BSD 2-clause,
// see testdata/bsd/LICENSE), with what a reader must make of each; hard
// follows sisimai's tables (testdata/bsd/expected.tsv). Hard
// is the first failed recipient's: only a bad address is hard; a full
// mailbox, a policy or SPF refusal, or a refused sender address is soft.
var samples = map[string]struct {
	kind Kind
	hard bool
	rcpt string // an address the report must name ("" when it names none)
}{
	"arf-01.eml":             {KindComplaint, false, ""},
	"arf-11.eml":             {KindComplaint, false, ""},
	"arf-14.eml":             {KindComplaint, false, "kijitora@y.example.com"},
	"arf-16.eml":             {KindComplaint, false, "kijitora@example.com"},
	"arf-18.eml":             {KindOther, false, ""}, // DMARC forensic report: nobody complained
	"arf-20.eml":             {KindOther, false, ""},
	"lhost-amazonses-01.eml": {KindBounce, false, "shironeko@example.co.jp"}, // 5.7.1 access denied
	"lhost-amazonses-03.eml": {KindBounce, false, "kijitora@example.jp"},     // 5.2.2 mailbox full
	"lhost-amazonses-06.eml": {KindBounce, true, "bounce@simulator.amazonses.com"},
	"lhost-exim-01.eml":      {KindBounce, false, "kijitora@example.ed.jp"},
	"lhost-exim-03.eml":      {KindBounce, false, "kijitora@example.jp"},
	"lhost-exim-05.eml":      {KindBounce, true, "kijitora@neko.example.co.jp"},
	"lhost-exim-07.eml":      {KindBounce, false, "shiba@example.com"},
	"lhost-exim-29.eml":      {KindBounce, false, "kijitora@example.co.jp"}, // SPF: the sender's fault
	"lhost-gmail-01.eml":     {KindBounce, true, "userunknown@example.jp"},
	"lhost-gmail-04.eml":     {KindBounce, false, "kijitora@example.com"}, // blocklisted sender
	"lhost-gmail-06.eml":     {KindDelay, false, ""},
	"lhost-gmail-08.eml":     {KindDelay, false, ""},
	"lhost-office365-01.eml": {KindBounce, true, "kijitora@example.com"},
	"lhost-office365-03.eml": {KindBounce, false, "kijitora@example.com"},
	"lhost-office365-05.eml": {KindBounce, false, "kijitora@example.jp"},         // 5.1.8 sender rejected
	"lhost-outlook-01.eml":   {KindBounce, false, "kijitora@example.jp"},         // 5.2.2 full
	"lhost-outlook-03.eml":   {KindBounce, true, "kijitora@example.jp"},          // domain not reachable
	"lhost-postfix-01.eml":   {KindBounce, false, "kijitora@example.org"},        // x-unix: the local delivery program failed
	"lhost-postfix-03.eml":   {KindBounce, false, "kijitora@example.net"},        // "unknown user" after DATA: a filter
	"lhost-postfix-05.eml":   {KindBounce, true, "kijitora@example.org"},         // 4.1.1 user unknown, given up
	"lhost-postfix-07.eml":   {KindBounce, false, "kijitora@user.example.or.jp"}, // "User unknown" to no command named: sisimai's filtered
	"lhost-postfix-09.eml":   {KindBounce, false, "kijitora@example.ne.jp"},
	"lhost-postfix-11.eml":   {KindBounce, false, "kijitora@example.jp"},
	"lhost-postfix-14.eml":   {KindBounce, true, "kijitora@2jo.example.jp"},
	"lhost-postfix-16.eml":   {KindBounce, true, "kijitora@example.go.jp"},
	"lhost-sendmail-01.eml":  {KindBounce, true, "userunknown@bouncehammer.jp"},
	"lhost-sendmail-03.eml":  {KindBounce, true, "bounce0@example.org"},
	"lhost-sendmail-05.eml":  {KindBounce, false, "kijitora@example.org"}, // 5.2.3 too big
	"lhost-yahoo-01.eml":     {KindBounce, true, "kijitora@example.org"},
	"lhost-yahoo-03.eml":     {KindBounce, true, "kijitora@example.jp"},
	"lhost-yahoo-05.eml":     {KindBounce, true, "kijitora@example.co.jp"},              // "User Unknown" then "[RCPT_TO]"
	"rfc3464-01.eml":         {KindBounce, false, "userunknown@bouncehammer.jp"},        // Status 5.1.1 but the notice says "Not enough disk space"
	"rfc3464-04.eml":         {KindBounce, false, "kijitora@mailx-53.neko.example.edu"}, // broken MIME, 5.5.0 service unavailable
	"rfc3464-07.eml":         {KindDelay, false, "kijitora@example.net"},
	"rfc3464-09.eml":         {KindDelay, false, "kijitora-nyaaaaaan@example.co.jp"},
	"rfc3464-26.eml":         {KindBounce, true, "kijitora@example.or.jp"},
	"rfc3834-01.eml":         {KindAutoReply, false, ""},
	"rfc3834-03.eml":         {KindAutoReply, false, ""},
	"rfc3834-05.eml":         {KindAutoReply, false, ""},
	"rhost-google-01.eml":    {KindBounce, false, "shironeko@example.ne.jp"}, // 5.2.1 account disabled: may come back
	"rhost-google-03.eml":    {KindBounce, false, "neko@example.co.jp"},      // 5.7.26 SPF
}

func TestParseRealMessages(t *testing.T) {
	t.Parallel()
	for name, want := range samples {
		raw, err := os.ReadFile(filepath.Join("testdata/bsd", name))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Parse(raw)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if rep.Kind != want.kind {
			t.Errorf("%s: kind %s, want %s (recipients %+v)", name, rep.Kind, want.kind, rep.Recipients)
			continue
		}
		if want.rcpt == "" {
			continue
		}
		var first *Recipient
		for i, r := range rep.Recipients {
			if first == nil && (r.Action == "failed" || rep.Kind != KindBounce) {
				first = &rep.Recipients[i]
			}
		}
		named := false
		for _, r := range rep.Recipients {
			named = named || r.Address == want.rcpt
		}
		if !named {
			t.Errorf("%s: recipients %+v do not name %s", name, rep.Recipients, want.rcpt)
		}
		if rep.Kind == KindBounce && (first == nil || first.Hard != want.hard) {
			t.Errorf("%s: first failed recipient %+v, want hard=%v", name, first, want.hard)
		}
	}
}

func TestParseRefusesWhatIsNotMail(t *testing.T) {
	t.Parallel()
	if _, err := Parse([]byte(strings.Repeat("x", MaxMessageBytes+1))); err != ErrTooLarge {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := Parse([]byte("no headers at all")); err == nil {
		t.Fatal("a message without headers parsed")
	}
}

func TestIsHard(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status, diag string
		hard         bool
	}{
		{"5.1.1", "smtp; 550 5.1.1 user unknown", true},
		{"5.2.2", "smtp; 552 5.2.2 mailbox full", false},
		{"5.7.1", "smtp; 550 5.7.1 blocked by policy", false},
		{"5.0.0", "smtp; 550 No such user here (in reply to RCPT TO command)", true},
		{"5.0.0", "smtp; 550 No such user here", false}, // no command, no code: a filter's words as often
		{"5.0.0", "smtp; 5.1.0 - Unknown address error 550-'5.2.2 <x@y>... Mailbox Full'", false},
		{"5.1.8", "smtp; 553 5.1.8 sender domain does not exist", false},
		{"4.2.2", "smtp; 452 4.2.2 over quota", false},
		{"", "", false},
	} {
		if got := judge(c.status, c.diag, "").Class == ClassHard; got != c.hard {
			t.Errorf("isHard(%q, %q) = %v, want %v", c.status, c.diag, got, c.hard)
		}
	}
}
