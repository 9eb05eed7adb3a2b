package discord

import (
	"net/url"
	"regexp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// Config is the discord section of config.yaml. Either Token and ChannelID
// (bot mode) or WebhookURL (webhook mode) make it send for real.
type Config struct {
	// Name is the instance's name (its key under channels:); empty means
	// the type's name. Overrides, payloads and deliveries use it.
	Name       string        `yaml:"-"`
	Enabled    bool          `yaml:"enabled"`
	Mode       channels.Mode `yaml:"mode"`
	Token      secret.Secret `yaml:"token"`
	ChannelID  string        `yaml:"channel_id"`
	WebhookURL secret.Secret `yaml:"webhook_url"`
	// Colour is the embed colour as #rrggbb.
	Colour string `yaml:"colour"`
	// Mention is a role id, "everyone" or "here" pinged with every post
	// (a post's own mention override wins).
	Mention string `yaml:"mention"`
	// Crosspost publishes messages in announcement channels to followers.
	Crosspost bool `yaml:"crosspost"`
}

var (
	colourPattern    = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	snowflakePattern = regexp.MustCompile(`^[0-9]{17,20}$`)
)

// instance is the name overrides and payloads use.
func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool {
	return (c.Token.IsSet() && c.ChannelID != "") || c.WebhookURL.IsSet()
}

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	if c.Colour != "" && !colourPattern.MatchString(c.Colour) {
		probs = append(probs, channels.ConfigProblem{Field: "colour", Message: "must be #rrggbb, e.g. #c0392b"})
	}
	if c.ChannelID != "" && !snowflakePattern.MatchString(c.ChannelID) {
		probs = append(probs, channels.ConfigProblem{Field: "channel_id", Message: "must be a Discord id (17 to 20 digits)"})
	}
	switch {
	case c.Mention == "", c.Mention == "everyone", c.Mention == "here", snowflakePattern.MatchString(c.Mention):
	default:
		probs = append(probs, channels.ConfigProblem{Field: "mention", Message: `must be a role id, "everyone" or "here"`})
	}
	if c.Token.IsSet() && c.ChannelID == "" && !c.WebhookURL.IsSet() {
		probs = append(probs, channels.ConfigProblem{Field: "channel_id", Message: "a bot token is set but no channel_id to post in"})
	}
	if c.WebhookURL.IsSet() {
		// The URL holds the webhook's token: never echo it.
		u, err := url.Parse(c.WebhookURL.Reveal())
		if err != nil || u.Scheme != "https" || !webhookPath.MatchString(u.Path) {
			probs = append(probs, channels.ConfigProblem{Field: "webhook_url", Message: "must look like https://discord.com/api/webhooks/<id>/<token>"})
		}
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		probs = append(probs, channels.ConfigProblem{Field: "token", Message: "mode is send but neither token and channel_id nor webhook_url is set"})
	}
	return probs
}
