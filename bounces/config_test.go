package bounces

import (
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/config/secret"
)

func TestConfigProblems(t *testing.T) {
	t.Parallel()
	if probs := (Config{}).Validate(); len(probs) != 0 {
		t.Fatalf("the empty section (everything off) has problems: %v", probs)
	}
	ok := Config{Address: "bounces@camaca.example", IMAP: IMAP{Host: "127.0.0.1", TLS: "none", Username: "b", Poll: time.Minute}}
	if probs := ok.Validate(); len(probs) != 0 {
		t.Fatalf("a local plain mailbox: %v", probs)
	}
	bad := Config{
		Address:   "Bounces <bounces+x@camaca.example>",
		IMAP:      IMAP{Host: "imap.example.org", TLS: "none", Poll: time.Second, Port: 70000},
		SoftLimit: -1,
		Webhooks: Webhooks{
			SES:      SES{TopicARNs: []string{"ses-bounces"}},
			Postmark: Postmark{Password: secret.Secret("short")},
			SendGrid: SendGrid{PublicKey: "not a key"},
		},
	}
	got := map[string]bool{}
	for _, p := range bad.Validate() {
		got[p.Field] = true
	}
	for _, f := range []string{"address", "imap.username", "imap.tls", "imap.port", "imap.poll", "soft_limit", "webhooks.ses.topic_arns[0]",
		"webhooks.postmark", "webhooks.postmark.password", "webhooks.sendgrid.public_key"} {
		if !got[f] {
			t.Errorf("no problem reported for %s (got %v)", f, got)
		}
	}
	for _, p := range bad.Validate() {
		if strings.Contains(p.Message, "short") {
			t.Errorf("a secret is echoed: %s", p.Message)
		}
	}
}

func TestAddressesRoundTrip(t *testing.T) {
	t.Parallel()
	a, err := NewAddresses("Bounces@Camaca.Example", []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rp := a.ReturnPath("post:md:vigil", 1234567)
	if len(rp[:strings.Index(rp, "@")]) > 64 {
		t.Fatalf("local part over 64 characters: %s", rp)
	}
	toks := a.findTokens("Delivered-To: " + strings.ToUpper(rp) + "\nList-Unsubscribe: <mailto:" + a.Unsubscribe(9) + "?subject=unsubscribe>")
	if len(toks) != 2 || toks[0].id != 1234567 || toks[0].sendHash != SendHash("post:md:vigil") || toks[1].kind != 'u' || toks[1].id != 9 {
		t.Fatalf("tokens %+v", toks)
	}
	other, _ := NewAddresses("bounces@camaca.example", []byte("another key......"))
	if got := other.findTokens(rp); len(got) != 0 {
		t.Fatalf("another key accepted %s", rp)
	}
	// Changing the subscriber in a valid address breaks its signature.
	forged := strings.Replace(a.Unsubscribe(9), "u-9-", "u-a-", 1)
	if got := a.findTokens(forged); len(got) != 0 {
		t.Fatalf("accepted %s", forged)
	}
}
