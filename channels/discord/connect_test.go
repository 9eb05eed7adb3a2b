package discord

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// TestCheckConnectionAgainstFake: a webhook and a bot with its channel
// connect and are named; a wrong token, an unknown webhook or channel, and
// a bot without the permissions to post are refused, naming the field and
// each missing permission in Discord's words, never echoing a secret.
func TestCheckConnectionAgainstFake(t *testing.T) {
	t.Parallel()
	// The good paths against a strict fake: every request and answer
	// matches Discord's spec.
	fake := discordfake.New(t)
	check := func(values map[string]string) (string, error) {
		env := channels.Env{HTTPClient: fake.Client()}
		return Provider{}.CheckConnection(context.Background(), env, channels.Connection{Instance: "discord", Values: values})
	}
	if d, err := check(map[string]string{"webhook_url": discordfake.WebhookURL(discordfake.WebhookID)}); err != nil || d != `webhook "Crier news"` {
		t.Fatalf("webhook: %q, %v", d, err)
	}
	if d, err := check(map[string]string{"token": discordfake.Token, "channel_id": discordfake.TextChannelID}); err != nil || d != "#news (bot crier)" {
		t.Fatalf("bot: %q, %v", d, err)
	}
	fake = discordfake.New(t)
	fake.AllowRejections() // the wrong bot token is refused as Discord does
	for _, tc := range []struct {
		name        string
		values      map[string]string
		field, says string
	}{
		{"nothing", map[string]string{}, "webhook_url", "webhook address, or a bot token"},
		{"wrong webhook token", map[string]string{"webhook_url": "https://discord.com/api/webhooks/" + discordfake.WebhookID + "/wrong-secret"}, "webhook_url", "refused"},
		{"deleted webhook", map[string]string{"webhook_url": "https://discord.com/api/webhooks/900000000000000099/" + discordfake.WebhookToken}, "webhook_url", "deleted"},
		{"not a webhook", map[string]string{"webhook_url": "https://example.org/hook"}, "webhook_url", "must look like"},
		{"wrong bot token", map[string]string{"token": "wrong-secret", "channel_id": discordfake.TextChannelID}, "token", "refused this bot token"},
		{"no channel", map[string]string{"token": discordfake.Token}, "channel_id", "ID of the channel"},
		{"unknown channel", map[string]string{"token": discordfake.Token, "channel_id": "900000000000000099"}, "channel_id", "no channel has this ID"},
	} {
		_, err := check(tc.values)
		var ce *channels.ConnectError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Reason, tc.says) {
			t.Errorf("%s: err = %v, want field %s saying %q", tc.name, err, tc.field, tc.says)
		}
		if err != nil && (strings.Contains(err.Error(), "wrong-secret") || strings.Contains(err.Error(), discordfake.WebhookToken)) {
			t.Errorf("%s: the error shows a secret: %v", tc.name, err)
		}
	}
	fake.SetBotPermissions(discordfake.PermViewChannel | discordfake.PermReadMessageHistory | discordfake.PermAttachFiles)
	_, err := check(map[string]string{"token": discordfake.Token, "channel_id": discordfake.TextChannelID})
	var ce *channels.ConnectError
	if !errors.As(err, &ce) || ce.Field != "channel_id" || !strings.Contains(ce.Reason, "give it Send Messages and Embed Links there") {
		t.Fatalf("missing permissions: err = %v, want Send Messages and Embed Links named", err)
	}
	fake.SetBotPermissions(discordfake.PermAdministrator)
	if _, err := check(map[string]string{"token": discordfake.Token, "channel_id": discordfake.TextChannelID}); err != nil {
		t.Fatalf("an administrator bot: %v", err)
	}
}
