package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/web/console"
)

// The console's review shows the newsletter's correction mail as the
// newsletter makes it.
func TestCorrectionMailPreview(t *testing.T) {
	t.Parallel()
	b := setup(t, `campaign: {name: CAMACA, website: https://camaca.example}
http: {public_url: "https://crier.camaca.example"}
channels:
  discord: {enabled: false}
  mastodon: {instance: https://social.example}
  email: {mode: outbox, from: "CAMACA <news@camaca.example>"}
`)
	app := b.app(io.Discard, io.Discard, nil)
	app.ConfigPath, app.Registry = b.cfg, providers()
	var err error
	if app.Config, app.Instances, err = app.loadConfig(); err != nil {
		t.Fatal(err)
	}
	c := &consoleCorrections{app: app}
	req := console.CorrectionRequest{PostID: "console:abc", Note: "The vigil starts at 7pm, not 6pm.", Mail: true,
		Corrected: post.Post{ID: "console:abc", Title: "Vigil on Friday", Body: "Join us at 7pm."}}
	if _, err := c.CorrectionMail(context.Background(), req); err == nil {
		t.Error("a correction on no newsletter has a correction mail")
	}
	req.Channels = []string{"mastodon", "email"}
	card, err := c.CorrectionMail(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if card.Mail == nil || card.Mail.Subject != "Correction: Vigil on Friday" || !strings.Contains(card.Mail.HTML, "The vigil starts at 7pm, not 6pm.") ||
		!strings.Contains(card.Mail.HTML, "Join us at 7pm.") {
		t.Fatalf("the correction mail's card: %+v", card.Mail)
	}
}
