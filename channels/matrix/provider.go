package matrix

import (
	"context"
	"io"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Provider is the Matrix channel type for the channel registry.
type Provider struct{}

// Type is "matrix".
func (Provider) Type() string { return Name }

// Configure reads one Matrix instance's section. A section must say
// enabled: true (so that a config written before Matrix existed gains no
// channel).
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg}, probs
}

// DocsPage is docs/matrix.md.
func (Provider) DocsPage() string { return "matrix.md" }

// OutboxReason names what a Matrix instance connects through.
func (Provider) OutboxReason() string { return "no Matrix account connected" }

// settings is one configured Matrix instance.
type settings struct{ cfg Config }

func (s settings) Enabled() bool        { return s.cfg.Enabled }
func (s settings) Mode() channels.Mode  { return s.cfg.Mode }
func (s settings) HasCredentials() bool { return s.cfg.HasCredentials() }

func (s settings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	return NewFormatter(s.cfg, c), nil
}

func (s settings) Connect(ctx context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	snd, err := NewSender(s.cfg, env)
	if err != nil {
		return nil, nil, err
	}
	return NewFormatter(s.cfg, env.Campaign), snd, nil
}

// Preview shows each message: its plain body, its HTML and its picture.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }
