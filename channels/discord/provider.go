package discord

import (
	"context"
	"io"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Provider is the Discord channel type for the channel registry.
type Provider struct{}

// Type is "discord".
func (Provider) Type() string { return Name }

// Configure reads one Discord channel's section (bot or webhook).
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name, Enabled: true}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg}, probs
}

// settings is one configured Discord channel.
type settings struct{ cfg Config }

func (s settings) Enabled() bool        { return s.cfg.Enabled }
func (s settings) Mode() channels.Mode  { return s.cfg.Mode }
func (s settings) HasCredentials() bool { return s.cfg.HasCredentials() }

func (s settings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	return NewFormatter(s.cfg, c), nil
}

func (s settings) Connect(ctx context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	return New(ctx, s.cfg, env)
}

// Preview shows the message body with its embed.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }

// CanMention is true: a post may ping a role on Discord.
func (Provider) CanMention() bool { return true }
