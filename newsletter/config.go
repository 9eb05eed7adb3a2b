// Package newsletter provides the newsletter engine: it composes a post (or a
// digest of posts) as a multipart/alternative mail from replaceable
// templates, renders it for each supporter (name, signed unsubscribe and
// preferences links, List-Unsubscribe), and sends a campaign to every
// selected supporter over reused SMTP connections with a durable
// per-recipient ledger (email_sends, email_recipients and the journal), so
// that a crash or restart never skips anyone and never sends anyone a second
// copy beyond the messages in flight. Replicas on PostgreSQL share a send.
// The channel adapter, channels/email, reads its config section and
// registers it as a channel; the engine owns the tables of its ledger.
package newsletter

import (
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/subscribers"
)

// Config is the newsletter's settings: the email channel's section of
// config.yaml (channels/email decodes it).
type Config struct {
	// Name is the instance's name (its key under channels:); empty means
	// the type's name. Overrides, payloads and deliveries use it.
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// Newsletter says what supporters receive: each_post (one newsletter
	// per post as it is published), digest (one per schedules.digest run)
	// or both. Empty means each_post when there is no digest schedule.
	Newsletter string `yaml:"newsletter"`
	SMTP       SMTP   `yaml:"smtp"`
	// From and ReplyTo are addresses such as "CAMACA <news@camaca.org>".
	From    string `yaml:"from"`
	ReplyTo string `yaml:"reply_to"`
	// ListID names the list in the List-Id header, e.g. news.camaca.org.
	ListID string `yaml:"list_id"`
	// Templates is a folder with the organisation's own templates; empty
	// means the built-in ones.
	Templates string `yaml:"templates"`
	// CountClicks sends the links of each newsletter through Crier's own
	// redirect to count them per link and send, never per person (unset:
	// true); false leaves links as they are.
	CountClicks *bool `yaml:"count_clicks"`
	// LinkSecret signs confirm and unsubscribe links.
	LinkSecret secret.Secret `yaml:"link_secret"`
	DKIM       DKIM          `yaml:"dkim"`
	// Concurrency is the number of SMTP connections used by a send.
	Concurrency int `yaml:"concurrency"`
	// RatePerSecond, RatePerHour and RatePerDay cap a send (0 means no cap).
	RatePerSecond float64 `yaml:"rate_per_second"`
	RatePerHour   int     `yaml:"rate_per_hour"`
	RatePerDay    int     `yaml:"rate_per_day"`
	// ConfirmationsPerHour caps the confirmation mails the subscribe form
	// sends across all visitors (0: 200; negative: no cap), so that nobody
	// can spend the provider's quota through the form.
	ConfirmationsPerHour int `yaml:"confirmations_per_hour"`
	// Topics are the lists supporters may choose on the preferences page,
	// each fed by post tags; none means no choice of topics.
	Topics []Topic `yaml:"topics"`
	// Bounces is the bounce mailbox and the providers' webhooks, through
	// which Crier learns of bounces, complaints and mailed unsubscribes.
	Bounces bounces.Config `yaml:"bounces"`
}

// TopicKeys are the stored identifiers of the configured topics.
func (c Config) TopicKeys() []string {
	keys := make([]string, len(c.Topics))
	for i, t := range c.Topics {
		keys[i] = t.Key()
	}
	return keys
}

// SMTP is where newsletters are handed over.
type SMTP struct {
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	Username string        `yaml:"username"`
	Password secret.Secret `yaml:"password"`
	// TLS is "starttls" (default), "tls" or "none". Certificates are always
	// verified.
	TLS string `yaml:"tls"`
	// AllowInsecure permits tls: none to a host that is not this machine:
	// subscribers' addresses, the mail and the password then cross the
	// network in clear text. Only for a relay on a network you trust.
	AllowInsecure bool `yaml:"allow_insecure"`
}

// insecureProblem says why the SMTP settings would send in clear text over
// the network, or "" when they would not.
func (s SMTP) insecureProblem() string {
	if s.TLS != "none" || s.Host == "" || s.AllowInsecure || isLoopback(s.Host) {
		return ""
	}
	return fmt.Sprintf("tls: none to %s would send subscribers' addresses, the mail and the SMTP password unencrypted; use starttls (port 587) or tls (port 465), or, for a relay on a network you trust, set allow_insecure: true", s.Host)
}

// isLoopback reports whether host is this machine: localhost or a loopback
// address. Names are not resolved: what a name points at can change.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// DKIM signs outgoing mail when Domain and a key are set.
type DKIM struct {
	Domain   string        `yaml:"domain"`
	Selector string        `yaml:"selector"`
	KeyFile  string        `yaml:"key_file"`
	Key      secret.Secret `yaml:"key"`
}

// Values of Config.Newsletter.
const (
	EachPost   = "each_post"
	DigestOnly = "digest"
	Both       = "both"
)

// SendsEachPost reports whether every post is mailed on its own.
func (c Config) SendsEachPost() bool { return c.Newsletter != DigestOnly }

// DefaultConcurrency is the number of SMTP connections when none is set.
const DefaultConcurrency = 4

// Type is the name of the channel type the newsletter is sent through
// (channels/email): its section in config.yaml and its payloads' type.
const Type = "email"

// Instance is the name overrides, payloads and the outbox use.
func (c Config) Instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Type
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.SMTP.Host != "" }

// Enabled reports whether DKIM signing is configured.
func (d DKIM) Enabled() bool { return d.Domain != "" }

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	// Whoever guesses the secret can forge anyone's unsubscribe link.
	if c.LinkSecret.IsSet() && len(c.LinkSecret.Reveal()) < 16 {
		probs = append(probs, channels.ConfigProblem{Field: "link_secret", Message: "must be at least 16 characters (e.g. `openssl rand -hex 32`); leave it empty to have one generated"})
	}
	for _, f := range []struct{ field, addr string }{{"from", c.From}, {"reply_to", c.ReplyTo}} {
		if f.addr == "" {
			continue
		}
		if _, err := mail.ParseAddress(f.addr); err != nil {
			probs = append(probs, channels.ConfigProblem{Field: f.field, Message: "must be an address such as \"CAMACA <news@camaca.org>\""})
		}
	}
	switch c.Newsletter {
	case "", EachPost, DigestOnly, Both:
	default:
		probs = append(probs, channels.ConfigProblem{Field: "newsletter", Message: "must be each_post (one newsletter per post), digest (one per schedules.digest run) or both"})
	}
	probs = append(probs, validateTopics(c.Topics)...)
	switch c.SMTP.TLS {
	case "", "starttls", "tls", "none":
	default:
		probs = append(probs, channels.ConfigProblem{Field: "smtp.tls", Message: "must be starttls, tls or none"})
	}
	if msg := c.SMTP.insecureProblem(); msg != "" {
		probs = append(probs, channels.ConfigProblem{Field: "smtp.tls", Message: msg})
	}
	if c.SMTP.Port < 0 || c.SMTP.Port > 65535 {
		probs = append(probs, channels.ConfigProblem{Field: "smtp.port", Message: "must be a port number (587 for starttls, 465 for tls)"})
	}
	if c.Concurrency < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "concurrency", Message: "must be 0 (default) or more"})
	}
	if c.RatePerSecond < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "rate_per_second", Message: "must be 0 (no cap) or more"})
	}
	if c.RatePerHour < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "rate_per_hour", Message: "must be 0 (no cap) or more"})
	}
	if c.RatePerDay < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "rate_per_day", Message: "must be 0 (no cap) or more"})
	}
	if strings.ContainsAny(c.ListID, " <>\r\n\t") {
		probs = append(probs, channels.ConfigProblem{Field: "list_id", Message: "must be a dotted name such as news.camaca.org, without spaces or angle brackets"})
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		probs = append(probs, channels.ConfigProblem{Field: "smtp.host", Message: "mode is send but no SMTP host is set"})
	}
	if c.Enabled && c.HasCredentials() && c.From == "" {
		probs = append(probs, channels.ConfigProblem{Field: "from", Message: "a sender address is needed to send the newsletter"})
	}
	for _, p := range c.Bounces.Validate() {
		probs = append(probs, channels.ConfigProblem{Field: "bounces." + p.Field, Message: p.Message})
	}
	if d := c.DKIM; d.Enabled() || d.Selector != "" || d.KeyFile != "" || d.Key.IsSet() {
		if d.Domain == "" {
			probs = append(probs, channels.ConfigProblem{Field: "dkim.domain", Message: "DKIM needs the signing domain (d=), e.g. camaca.org"})
		}
		if d.Selector == "" {
			probs = append(probs, channels.ConfigProblem{Field: "dkim.selector", Message: "DKIM needs the selector under which the public key is published in DNS"})
		}
		switch {
		case d.KeyFile == "" && !d.Key.IsSet():
			probs = append(probs, channels.ConfigProblem{Field: "dkim.key_file", Message: "DKIM needs a private key: key_file, or key: ${DKIM_KEY} from the environment"})
		case d.KeyFile != "" && d.Key.IsSet():
			probs = append(probs, channels.ConfigProblem{Field: "dkim.key", Message: "set key_file or key, not both"})
		}
	}
	return probs
}

// BounceAddresses returns the bounce mailbox's signed addresses
// (channels.email.bounces.address), signed with a key derived from the
// link secret, or nil when no bounce address is set. The sender puts them
// in every newsletter; the bounce reader checks what comes back with the
// same.
func BounceAddresses(c Config, signer *subscribers.Signer) (*bounces.Addresses, error) {
	if c.Bounces.Address == "" {
		return nil, nil
	}
	a, err := bounces.NewAddresses(c.Bounces.Address, signer.Subkey("bounce-addresses"))
	if err != nil {
		return nil, fmt.Errorf("channels.email.bounces.address: %w", err)
	}
	return a, nil
}

// dkimSigner loads the DKIM key (from the file or the environment-expanded
// key) and returns a signer that covers the list headers too, or nil when
// DKIM is not configured.
func (c Config) dkimSigner() (*dkimSigner, error) {
	d := c.DKIM
	if !d.Enabled() {
		return nil, nil
	}
	if d.Selector == "" {
		return nil, fmt.Errorf("DKIM config for %s: no selector", d.Domain)
	}
	var pemBytes []byte
	if d.KeyFile != "" {
		b, err := os.ReadFile(d.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading DKIM key file: %w", err)
		}
		pemBytes = b
	} else {
		pemBytes = []byte(d.Key.Reveal())
	}
	key, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		// The key's bytes are never echoed.
		return nil, fmt.Errorf("reading DKIM key for %s: not a PEM RSA or Ed25519 private key (%v)", d.Domain, errWithoutKey(err))
	}
	s, err := newDKIMSigner(d.Domain, d.Selector, key)
	if err != nil {
		return nil, fmt.Errorf("DKIM config for %s: %w", d.Domain, err)
	}
	return s, nil
}

// errWithoutKey keeps only the kind of a key parsing error.
func errWithoutKey(err error) string {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
