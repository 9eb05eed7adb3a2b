package newsletter

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestCountClicksRewritesOnlyTheMail: with count_clicks (unset: true) the
// mail's links lead through /l/ with the same token in every copy, and the
// archive's web version keeps the addresses as written; with false the
// mail's links are left as they are.
func TestCountClicksRewritesOnlyTheMail(t *testing.T) {
	t.Parallel()
	noServer := &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: 1}
	for _, count := range []*bool{nil, new(bool)} {
		fx := newFixture(t, noServer, "", func(c *Config) { c.CountClicks = count })
		payload, err := fx.sender.f.Format(samplePost())
		if err != nil {
			t.Fatal(err)
		}
		m := payload.Body.(*Message)
		web, err := fx.sender.f.WebVersion(m)
		if err != nil {
			t.Fatal(err)
		}
		counted := strings.Contains(m.HTML, testCampaign.PublicURL+ClickPrefix) && !strings.Contains(m.HTML, `href="https://camaca.org/report"`)
		if counted != (count == nil) {
			t.Errorf("count_clicks %v: counted links = %v in:\n%s", count, counted, m.HTML)
		}
		if count == nil && !strings.Contains(m.Text, testCampaign.PublicURL+ClickPrefix) {
			t.Errorf("the text part's read-on link is not counted:\n%s", m.Text)
		}
		if strings.Contains(web, ClickPrefix) || !strings.Contains(web, `href="https://camaca.org/report"`) {
			t.Errorf("count_clicks %v: the web version's links are not as written:\n%s", count, web)
		}
	}
}

// TestClickTokens: a token names its send and address, and anything
// altered is refused.
func TestClickTokens(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: 1}, "", nil)
	tok := fx.signer.ClickToken("post:md:vigil", "https://camaca.org/petition?a=1")
	send, target, err := fx.signer.CheckClick(tok)
	if err != nil || send != "post:md:vigil" || target != "https://camaca.org/petition?a=1" {
		t.Fatalf("CheckClick = %q %q %v", send, target, err)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	other := fx.signer.ClickToken("post:md:vigil", "https://evil.example/")
	otherPayload, _, _ := strings.Cut(other, ".")
	for _, bad := range []string{payload + "." + sig + "x", otherPayload + "." + sig, payload, payload[1:] + "." + sig, ""} {
		if _, _, err := fx.signer.CheckClick(bad); err == nil {
			t.Errorf("CheckClick(%q) accepted an altered token", bad)
		}
	}
}
