package instagram

import (
	"context"
	"io"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/titlecard"
)

// Provider is the Instagram channel type for the channel registry. Its
// zero value is Crier's behaviour; tests set Options.
type Provider struct {
	Options Options
}

// Options are the sender's test hooks; zero values are Crier's defaults.
type Options struct {
	// DrawCard draws a title card (nil: titlecard.Draw).
	DrawCard func(titlecard.Options) ([]byte, error)
	// PollEvery is the wait between two looks at a container that is
	// not ready (0: 3 seconds), and Polls how many looks one attempt
	// takes at most (0: 20). Meta suggests a look a minute for up to
	// five; a photo's container is ready in seconds, so Crier looks more
	// often for one minute, and the next attempt goes on.
	PollEvery time.Duration
	Polls     int
}

func (o Options) withDefaults() Options {
	if o.DrawCard == nil {
		o.DrawCard = titlecard.Draw
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 3 * time.Second
	}
	if o.Polls <= 0 {
		o.Polls = 20
	}
	return o
}

// Type is "instagram".
func (Provider) Type() string { return Name }

// Configure reads one Instagram channel's section.
func (pr Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name}
	probs := channels.DecodeSection(s, &cfg)
	return settings{cfg: cfg, opts: pr.Options}, probs
}

// settings is one configured Instagram channel.
type settings struct {
	cfg  Config
	opts Options
}

func (s settings) Enabled() bool        { return s.cfg.Enabled }
func (s settings) Mode() channels.Mode  { return s.cfg.Mode }
func (s settings) HasCredentials() bool { return s.cfg.HasCredentials() }
func (s settings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	return NewFormatter(s.cfg, c), nil
}

func (s settings) Connect(ctx context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	snd, err := NewSender(s.cfg, env, s.opts)
	if err != nil {
		return nil, nil, err
	}
	return NewFormatter(s.cfg, env.Campaign), snd, nil
}

// Preview shows the post's fields.
func (s settings) Preview(w io.Writer, p channels.Payload) { channels.PreviewFields(w, p.Body, "   ") }

// DocsPage is docs/meta.md.
func (Provider) DocsPage() string { return "meta.md" }

// OutboxReason names what an Instagram channel connects through.
func (Provider) OutboxReason() string { return "no Instagram account connected" }
