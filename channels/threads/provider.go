package threads

import (
	"context"
	"io"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Provider is the Threads channel type for the channel registry.
type Provider struct{}

// Type is "threads".
func (Provider) Type() string { return Name }

// Configure reads one Threads channel's section.
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg}, probs
}

// settings is one configured Threads channel.
type settings struct{ cfg Config }

func (s settings) Enabled() bool        { return s.cfg.Enabled }
func (s settings) Mode() channels.Mode  { return s.cfg.Mode }
func (s settings) HasCredentials() bool { return s.cfg.HasCredentials() }

func (s settings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	return NewFormatter(s.cfg, c), nil
}

func (s settings) Connect(ctx context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	snd, err := NewSender(s.cfg, env, SenderOptions{})
	if err != nil {
		return nil, nil, err
	}
	return NewFormatter(s.cfg, env.Campaign), snd, nil
}

// Preview shows the chain's fields.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }

// DocsPage is docs/meta.md.
func (Provider) DocsPage() string { return "meta.md" }

// OutboxReason names what a Threads channel connects through.
func (Provider) OutboxReason() string { return "no Threads account connected" }
