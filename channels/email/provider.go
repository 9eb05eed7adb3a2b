// Package email is the newsletter's channel adapter: it reads the email
// section of config.yaml, registers the newsletter as the channel type
// "email", shows its payload in previews, and hands the newsletter pages
// their supporters and mailer. The engine itself (composing and rendering
// the mail, the send loop, its ledger and journal) is the newsletter
// package; docs/architecture.md says where the line runs and why.
package email

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// Config is the email section of config.yaml: the newsletter's settings.
type Config = newsletter.Config

// The parts of the section, and the payload body, under their old names.
type (
	SMTP     = newsletter.SMTP
	DKIM     = newsletter.DKIM
	Topic    = newsletter.Topic
	Message  = newsletter.Message
	Progress = newsletter.Progress
)

// Type is "email".
const Type = newsletter.Type

// NewFormatter returns the newsletter's formatter (newsletter.NewFormatter).
func NewFormatter(cfg Config, campaign channels.Campaign) (channels.Formatter, error) {
	return newsletter.NewFormatter(cfg, campaign)
}

// SendProgress lists the newsletter sends for crier status and the console;
// it forwards to newsletter.SendProgress, which owns the send ledger.
func SendProgress(ctx context.Context, db *sql.DB) ([]Progress, error) {
	return newsletter.SendProgress(ctx, db)
}

// Provider is the email newsletter channel type for the channel registry.
type Provider struct{}

// Type is "email".
func (Provider) Type() string { return Type }

// Single says why there is one newsletter channel at most.
func (Provider) Single() string {
	return "the newsletter has one list of supporters and one set of subscribe pages"
}

// Configure reads the newsletter's section; its file paths are made
// relative to the config file, as every other path in it is.
func (Provider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := Config{Name: s.Name, Enabled: true}
	probs := channels.DecodeSection(s, &cfg)
	if c := s.Config(); c != nil && cfg.Enabled {
		probs = append(probs, newsletterChoice(s, cfg, c.Schedules.Digest != "")...)
	}
	cfg.Templates = s.Resolve(cfg.Templates)
	cfg.DKIM.KeyFile = s.Resolve(cfg.DKIM.KeyFile)
	return &Settings{cfg: cfg}, probs
}

// newsletterChoice checks that per-post newsletters and the digest are
// chosen on purpose: a digest schedule alone used to mail every post twice.
func newsletterChoice(s config.ChannelSection, cfg Config, digest bool) config.Problems {
	field := s.Field("newsletter")
	switch cfg.Newsletter {
	case "":
		if digest {
			return config.Problems{s.Config().Problem("schedules.digest", "a digest schedule is set but %s is not: say whether supporters get each post (each_post), the digest (digest) or both (both)", field)}
		}
	case newsletter.EachPost:
		if digest {
			return config.Problems{s.Problem("newsletter", "is each_post but schedules.digest is set: choose digest or both, or empty schedules.digest")}
		}
	case newsletter.DigestOnly, newsletter.Both:
		if !digest {
			return config.Problems{s.Problem("newsletter", "is %s but schedules.digest is empty: give it a schedule such as \"0 9 * * MON\"", cfg.Newsletter)}
		}
	}
	return nil
}

// Settings is the configured newsletter. Besides a channel, it is the
// newsletter's supporters and pages: see Newsletter.
type Settings struct {
	cfg Config

	mu     sync.Mutex
	subs   *subscribers.Store
	signer *subscribers.Signer
}

// NewsletterConfig returns the newsletter's config section: cmd/crier asks
// for it by this method (it imports no channel package outside
// providers.go) to set up the bounce processing.
func (s *Settings) NewsletterConfig() newsletter.Config { return s.cfg }

func (s *Settings) Enabled() bool        { return s.cfg.Enabled }
func (s *Settings) Mode() channels.Mode  { return s.cfg.Mode }
func (s *Settings) HasCredentials() bool { return s.cfg.HasCredentials() }

func (s *Settings) Formatter(c channels.Campaign) (channels.Formatter, error) {
	f, err := newsletter.NewFormatter(s.cfg, c)
	if err != nil {
		return nil, fmt.Errorf("%s channel: %w", s.cfg.Instance(), err)
	}
	return f, nil
}

// Connect opens the supporters and the send ledger and returns the real
// sender.
func (s *Settings) Connect(ctx context.Context, env channels.Env) (channels.Formatter, channels.Sender, error) {
	subs, signer, err := s.open(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	var opts []newsletter.Option
	if env.Registerer != nil {
		opts = append(opts, newsletter.WithRegisterer(env.Registerer))
	}
	return newsletter.New(ctx, s.cfg, env, subs, signer, opts...)
}

// Preview shows the subject and the text; the HTML is written by --html.
func (s *Settings) Preview(w io.Writer, p channels.Payload) {
	if s.DigestOnly() {
		fmt.Fprintf(w, "   (channels.%s.newsletter is digest: supporters get this post in the next digest, not on its own; crier preview --digest shows it)\n", s.cfg.Instance())
	}
	if m, ok := p.Body.(*Message); ok && len(s.cfg.Topics) > 0 {
		if m.General {
			fmt.Fprintln(w, "   (on no topic: it goes to every supporter, whatever topics they chose)")
		} else {
			fmt.Fprintf(w, "   (topics: %s: it goes to supporters who chose one of these, or no topic)\n", strings.Join(m.Topics, ", "))
		}
	}
	channels.PreviewFields(w, p.Body, "   ")
}

// DigestOnly is true with newsletter: digest.
func (s *Settings) DigestOnly() bool { return !s.cfg.SendsEachPost() }

// DigestNote tells an organiser where a post goes instead.
func (s *Settings) DigestNote() string {
	return fmt.Sprintf("the newsletter goes out as a digest (channels.%s.newsletter: digest): supporters get this post in the next digest after it is published", s.cfg.Instance())
}

// Newsletter returns what the subscribe pages need. sender is the
// channel's sender: it mails the confirmations when it sends for real;
// otherwise they go to the outbox.
func (s *Settings) Newsletter(ctx context.Context, env channels.Env, sender channels.Sender) (*subscribers.Newsletter, error) {
	subs, signer, err := s.open(ctx, env)
	if err != nil {
		return nil, err
	}
	nl := &subscribers.Newsletter{Store: subs, Signer: signer, ConfirmationsPerHour: s.cfg.ConfirmationsPerHour,
		Erased: func(id int64) error { return s.EraseConfirmations(env.OutboxDir, id) }, Sends: s.cfg.Newsletter}
	for _, t := range s.cfg.Topics {
		nl.Topics = append(nl.Topics, subscribers.Topic{Key: t.Key(), Name: t.Name, Names: t.Names})
	}
	if m, ok := sender.(subscribers.Mailer); ok {
		nl.Mailer = m
	} else {
		nl.Mailer = newsletter.NewOutboxMailer(s.cfg, env.Campaign, env.OutboxDir)
	}
	return nl, nil
}

// EraseConfirmations removes the confirmation mails to subscriber id that
// this newsletter wrote to the outbox (they hold the address).
func (s *Settings) EraseConfirmations(outboxDir string, id int64) error {
	return s.cfg.EraseConfirmations(outboxDir, id)
}

// SendTest sends one test copy of p's newsletter to an organiser.
func (s *Settings) SendTest(ctx context.Context, c channels.Campaign, p post.Post, to string) error {
	return newsletter.SendTest(ctx, s.cfg, c, p, to)
}

// SendAccountMail sends a console account mail through this newsletter's
// mail server.
func (s *Settings) SendAccountMail(ctx context.Context, c channels.Campaign, to, subject, text string) error {
	return newsletter.SendAccountMail(ctx, s.cfg, c, to, subject, text)
}

// open opens the supporters and the link signer once.
func (s *Settings) open(ctx context.Context, env channels.Env) (*subscribers.Store, *subscribers.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs != nil {
		return s.subs, s.signer, nil
	}
	subs, err := subscribers.Open(ctx, env.DB)
	if err != nil {
		return nil, nil, fmt.Errorf("opening subscribers: %w", err)
	}
	key := []byte(s.cfg.LinkSecret.Reveal())
	if len(key) == 0 {
		if key, err = subscribers.LoadOrCreateKey(env.DataDir); err != nil {
			return nil, nil, fmt.Errorf("link signing key: %w", err)
		}
	}
	s.subs, s.signer = subs, subscribers.NewSigner(key)
	return s.subs, s.signer, nil
}
