package bluesky

import (
	"context"
	"io"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Provider is the Bluesky channel type for the channel registry.
type Provider struct{}

// Type is "bluesky".
func (Provider) Type() string { return Name }

// Configure reads one Bluesky account's section. A section must say
// enabled: true (so that a config written before Bluesky existed gains no
// channel).
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg}, probs
}

// settings is one configured Bluesky account.
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

// Preview shows each post of the thread: its record, the image to upload
// and the mentions to resolve.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }
