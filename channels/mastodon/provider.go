package mastodon

import (
	"context"
	"io"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Provider is the Mastodon channel type for the channel registry.
type Provider struct{}

// Type is "mastodon".
func (Provider) Type() string { return Name }

// Configure reads one Mastodon account's section.
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name, Enabled: true, Visibility: "public"}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg}, probs
}

// settings is one configured Mastodon account.
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

// CharacterLimit is the budget toots are counted against when the instance
// can't be asked (max_characters; 500 when unset), for the console's count.
func (s settings) CharacterLimit() int {
	if s.cfg.MaxCharacters > 0 {
		return s.cfg.MaxCharacters
	}
	return defaultLimits().MaxCharacters
}

// Preview shows each status of the thread with its parameters.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }
