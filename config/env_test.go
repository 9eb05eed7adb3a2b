package config_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/config"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestEnvFeedsEveryType: ${VAR} is substituted before the value is typed,
// so the environment (or a default) can set a number, a boolean or a
// duration, in the core config and in a channel's section, as if the value
// had been written there.
func TestEnvFeedsEveryType(t *testing.T) {
	t.Parallel()
	src := `console:
  require_approval: ${APPROVE}
delivery:
  max_attempts: ${ATTEMPTS:-7}
  timeout: ${TIMEOUT:-45s}
sources:
  feeds:
    - {name: news, url: https://camaca.example/feed.xml, schedule: "@every 1h", publish_newest: "${NEWEST}", example: "${EXAMPLE:-true}"}
channels:
  email:
    from: news@camaca.example
    link_secret: ${LINK_SECRET}
    rate_per_second: ${RATE:-2.5}
    smtp:
      host: ${SMTP_HOST:-127.0.0.1}
      port: ${SMTP_PORT:-2525}
      username: ${SMTP_USER}
      allow_insecure: ${INSECURE:-false}
    bounces:
      soft_window: ${SOFT_WINDOW:-72h}
      soft_limit: ${SOFT_LIMIT}
`
	env := envOf(map[string]string{"APPROVE": "true", "NEWEST": "3", "TIMEOUT": "2m", "SOFT_LIMIT": "4",
		"LINK_SECRET": "0123456789abcdef-link", "SMTP_USER": "007", "SMTP_PORT": "587"})
	cfg, err := Parse("c.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Console.RequireApproval || cfg.Delivery.MaxAttempts != 7 || cfg.Delivery.Timeout != 2*time.Minute ||
		cfg.Sources.Feeds[0].PublishNewest != 3 || !cfg.Sources.Feeds[0].Example {
		t.Errorf("core fields: %+v %+v %+v", cfg.Console, cfg.Delivery, cfg.Sources.Feeds[0])
	}
	var ec email.Config
	if probs := cfg.Channels[0].Decode(&ec); len(probs) > 0 {
		t.Fatal(probs)
	}
	if ec.SMTP.Port != 587 || ec.SMTP.Host != "127.0.0.1" || ec.SMTP.AllowInsecure || ec.RatePerSecond != 2.5 ||
		ec.Bounces.SoftWindow != 72*time.Hour || ec.Bounces.SoftLimit != 4 {
		t.Errorf("channel fields: %+v, rate %v, bounces %+v", ec.SMTP, ec.RatePerSecond, ec.Bounces)
	}
	// A text field keeps the text as given, even when it reads as a number.
	if ec.SMTP.Username != "007" || ec.LinkSecret.Reveal() != "0123456789abcdef-link" {
		t.Errorf("text fields: username %q", ec.SMTP.Username)
	}
}

// TestEnvValueNeverInTypeErrors: a value from the environment that does
// not fit its field is a problem at its line that names the variable, never
// the value (it may be a secret put in the wrong place).
func TestEnvValueNeverInTypeErrors(t *testing.T) {
	t.Parallel()
	src := `delivery:
  workers: ${SMTP_PASSWORD}
channels:
  email:
    from: news@camaca.example
    smtp:
      port: ${SMTP_PASSWORD}
      allow_insecure: ${SMTP_PASSWORD}
`
	cfg, probs := config.ParseAll("c.yaml", []byte(src), envOf(map[string]string{"SMTP_PASSWORD": "hunter2-secret"}))
	var ec email.Config
	probs = append(probs, cfg.Channels[0].Decode(&ec)...)
	text := probs.Error()
	for _, want := range []string{
		"c.yaml:2: delivery.workers: expected a number",
		"c.yaml:7: channels.email.smtp.port: expected a number",
		"c.yaml:8: channels.email.smtp.allow_insecure: expected true or false",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if strings.Contains(text, "hunter2") || strings.Count(text, "${SMTP_PASSWORD}") != 3 {
		t.Errorf("want the variable named and its value hidden:\n%s", text)
	}
}

// The organisers' Discord webhook comes from the environment, never
// prints, and a value that is not an address is an error with its line.
func TestConsoleNotifyDiscordWebhook(t *testing.T) {
	t.Parallel()
	src := "console:\n  notify:\n    discord_webhook: ${ORGANISERS_DISCORD_WEBHOOK}\n"
	hook := "https://discord.com/api/webhooks/1/very-secret-token"
	cfg, err := Parse("c.yaml", []byte(src), envOf(map[string]string{"ORGANISERS_DISCORD_WEBHOOK": hook}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Console.Notify.DiscordWebhook.Reveal() != hook || strings.Contains(fmt.Sprintf("%v %+v", cfg.Console, cfg.Console), "very-secret") {
		t.Errorf("webhook %+v", cfg.Console.Notify)
	}
	_, err = Parse("c.yaml", []byte(src), envOf(map[string]string{"ORGANISERS_DISCORD_WEBHOOK": "discord.com/very-secret"}))
	if err == nil || !strings.Contains(err.Error(), "c.yaml:3: console.notify.discord_webhook: must be a Discord webhook address") || strings.Contains(err.Error(), "very-secret") {
		t.Errorf("a webhook without https://: %v", err)
	}
}

// The organisers' Matrix room: all three keys or none, its token from the
// environment only and never printed; each mistake names its line and fix.
func TestConsoleNotifyMatrix(t *testing.T) {
	t.Parallel()
	const token = "syt_very_secret_token"
	env := envOf(map[string]string{"ORGANISERS_MATRIX_TOKEN": token, "EMPTY": ""})
	good := "console:\n  notify:\n    matrix:\n      homeserver: https://matrix.example.org\n      room: \"#organisers:example.org\"\n      access_token: ${ORGANISERS_MATRIX_TOKEN}\n"
	cfg, err := Parse("c.yaml", []byte(good), env)
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Console.Notify.Matrix
	if !m.Configured() || m.Homeserver != "https://matrix.example.org" || m.Room != "#organisers:example.org" || m.AccessToken.Reveal() != token ||
		strings.Contains(fmt.Sprintf("%v %+v", cfg.Console, cfg.Console), "very_secret") {
		t.Errorf("matrix %+v", m)
	}
	if cfg, err := Parse("c.yaml", []byte("console:\n  notify: {}\n"), env); err != nil || cfg.Console.Notify.Matrix.Configured() {
		t.Errorf("no matrix section: %v %+v", err, cfg.Console.Notify.Matrix)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"homeserver without scheme", strings.Replace(good, "https://matrix.example.org", "matrix.example.org", 1),
			"c.yaml:4: console.notify.matrix.homeserver: must be the address of the posting account's homeserver"},
		{"room that is a name", strings.Replace(good, `"#organisers:example.org"`, "organisers", 1),
			"c.yaml:5: console.notify.matrix.room: must be the room's ID (!abc123:example.org"},
		{"token written in the file", strings.Replace(good, "${ORGANISERS_MATRIX_TOKEN}", token, 1),
			"c.yaml:6: console.notify.matrix.access_token: must come from the environment, not be written in the file"},
		{"empty token", strings.Replace(good, "${ORGANISERS_MATRIX_TOKEN}", "${EMPTY}", 1),
			"c.yaml:6: console.notify.matrix.access_token: is empty: set it to ${ORGANISERS_MATRIX_TOKEN}"},
		{"no token", strings.Replace(good, "      access_token: ${ORGANISERS_MATRIX_TOKEN}\n", "", 1),
			"c.yaml:3: console.notify.matrix.access_token: is empty"},
	} {
		_, err := Parse("c.yaml", []byte(tc.src), env)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), token) {
			t.Errorf("%s: %v\nwant %q, without the token", tc.name, err, tc.want)
		}
	}
}
