package newsletter

import (
	"context"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"testing"

	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/internal/testpeers/spamassassin"
	"github.com/crierhq/crier/subscribers"
)

// TestNewsletterIsNotScoredAsSpam sends a newsletter through a real SMTP
// server (Mailpit, a local route) and scores the mail as it arrived with
// SpamAssassin's local rules. Hidden preview text used to trip
// HTML_FONT_LOW_CONTRAST and FONT_INVIS_MSGID.
func TestNewsletterIsNotScoredAsSpam(t *testing.T) {
	pgpeer.EachDriver(t, testNewsletterIsNotScoredAsSpam)
}

func testNewsletterIsNotScoredAsSpam(t *testing.T, driver string) {
	if spamassassin.Binary() == "" {
		spamassassin.Score(t, nil) // skips (or fails under CRIER_REQUIRE_PEERS) naming the package
	}
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	fx.add(t, "anna@example.org", "Anna Example", subscribers.Confirmed)
	// The campaign's own post, as organisers write them.
	p, err := markdown.ParseFile("../posts/2023-11-08-icat-call-to-action.md")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.send(t, p); err != nil {
		t.Fatal(err)
	}
	ids := inbox(t, mp)["anna@example.org"]
	if len(ids) != 1 {
		t.Fatalf("want one mail for anna, got %v", ids)
	}
	raw, err := mp.Raw(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	res := spamassassin.Score(t, raw)
	t.Logf("SpamAssassin, local rules only, on the newsletter as delivered:\n%s", res)
	for _, rule := range []string{"HTML_FONT_LOW_CONTRAST", "FONT_INVIS_MSGID", "HTML_FONT_INVISIBLE", "HIDDEN_TEXT"} {
		if res.Fired(rule) {
			t.Errorf("%s fired: the preview text must not be hidden or faint", rule)
		}
	}
	if res.Score >= 0 {
		t.Errorf("score %.1f, want below 0", res.Score)
	}
}
