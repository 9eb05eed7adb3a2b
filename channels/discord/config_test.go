package discord

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	const hook = "https://discord.com/api/webhooks/900000000000000020/abc-DEF_123"
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string // "" when valid
	}{
		{"empty", Config{}, ""},
		{"bot", Config{Token: "t", ChannelID: "900000000000000010", Colour: "#C0392B", Mention: "everyone"}, ""},
		{"webhook", Config{WebhookURL: hook, Mention: "123456789012345678"}, ""},
		{"colour", Config{Colour: "red"}, "colour"},
		{"channel id", Config{Token: "t", ChannelID: "news"}, "channel_id"},
		{"token without channel", Config{Token: "t"}, "channel_id"},
		{"mention", Config{Mention: "@everyone"}, "mention"},
		{"webhook over http", Config{WebhookURL: "http://discord.com/api/webhooks/900000000000000020/abc"}, "webhook_url"},
		{"not a webhook", Config{WebhookURL: "https://discord.com/channels/1/2"}, "webhook_url"},
		{"send without credentials", Config{Mode: channels.ModeSend}, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probs := tc.cfg.Validate()
			if tc.field == "" {
				if len(probs) > 0 {
					t.Fatalf("problems %+v", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Field != tc.field {
				t.Fatalf("problems %+v, want one on %s", probs, tc.field)
			}
			if strings.Contains(probs[0].Message, "abc") {
				t.Errorf("the problem shows the webhook token: %s", probs[0].Message)
			}
		})
	}
	if !(Config{WebhookURL: secret.Secret(hook)}).HasCredentials() {
		t.Error("a webhook URL is a credential")
	}
}
