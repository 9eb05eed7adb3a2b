// Package bounces provides what Crier learns about its newsletter after the
// SMTP server accepted it: delivery status notifications (RFC 3464), abuse
// feedback reports (RFC 5965) and mailed unsubscribes read from a bounce
// mailbox over IMAP, and the bounce and complaint webhooks of SES,
// Postmark, SendGrid and Mailgun. Each is matched to the subscriber it is
// about and acted on: a hard bounce marks the address bounced, soft bounces
// suppress it after a number within a window, a complaint or a mailed
// unsubscribe unsubscribes.
package bounces

import (
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/config/secret"
)

// Config is channels.email.bounces in config.yaml.
type Config struct {
	// Address is where bounces, complaints and mailed unsubscribes go: the
	// bounce mailbox's address, e.g. bounces@camaca.org. When it is set,
	// each newsletter is sent from ADDRESS's local part plus a signed token
	// (VERP: bounces+b...@camaca.org), and its List-Unsubscribe mailto is
	// another signed address of the same mailbox, so that whatever comes
	// back names its subscriber unforgeably. The mailbox must deliver
	// local+anything@ to local@ (plus addressing, on by default on most
	// servers). Empty: the return path is the from address, as before.
	Address string `yaml:"address"`
	// IMAP is the mailbox Crier reads; without a host the reader is off.
	IMAP IMAP `yaml:"imap"`
	// SoftLimit soft bounces of one address within SoftWindow mark it
	// bounced (defaults 3 and 30 days).
	SoftLimit  int           `yaml:"soft_limit"`
	SoftWindow time.Duration `yaml:"soft_window"`
	// Webhooks are the providers' event notifications.
	Webhooks Webhooks `yaml:"webhooks"`
}

// IMAP is the bounce mailbox.
type IMAP struct {
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	Username string        `yaml:"username"`
	Password secret.Secret `yaml:"password"`
	// TLS is "tls" (default, port 993), "starttls" (143) or "none" (only
	// for a server on this machine).
	TLS string `yaml:"tls"`
	// Mailbox is the folder read (default INBOX).
	Mailbox string `yaml:"mailbox"`
	// Poll is how often the mailbox is read (default 5m).
	Poll time.Duration `yaml:"poll"`
	// DeleteProcessed deletes the bounces and unsubscribes Crier acted on;
	// by default they are only marked seen (other mail is left unread).
	DeleteProcessed bool `yaml:"delete_processed"`
}

// Webhooks holds each provider's verification secret; a provider without
// one has no endpoint (its path answers 404).
type Webhooks struct {
	SES      SES      `yaml:"ses"`
	Postmark Postmark `yaml:"postmark"`
	SendGrid SendGrid `yaml:"sendgrid"`
	Mailgun  Mailgun  `yaml:"mailgun"`
}

// SES is Amazon SES through an SNS topic (HTTPS subscription to
// /webhooks/ses).
type SES struct {
	// TopicARNs are the SNS topics whose messages are accepted, e.g.
	// arn:aws:sns:eu-west-1:123456789012:ses-bounces. Messages are verified
	// with SNS's signature whatever the topic; the list stops another AWS
	// account's signed topic from being subscribed to Crier.
	TopicARNs []string `yaml:"topic_arns"`
}

// Postmark authenticates with HTTP basic auth in the webhook URL
// (https://USER:PASSWORD@news.camaca.org/webhooks/postmark).
type Postmark struct {
	Username string        `yaml:"username"`
	Password secret.Secret `yaml:"password"`
}

// SendGrid signs its Event Webhook with ECDSA; PublicKey is the
// verification key SendGrid shows (base64).
type SendGrid struct {
	PublicKey string `yaml:"public_key"`
}

// Mailgun signs every webhook with HMAC-SHA256 under the HTTP webhook
// signing key.
type Mailgun struct {
	SigningKey secret.Secret `yaml:"signing_key"`
}

// Defaults of the soft-bounce rule.
const (
	DefaultSoftLimit  = 3
	DefaultSoftWindow = 30 * 24 * time.Hour
	DefaultPoll       = 5 * time.Minute
)

// Problem is one thing wrong in the section, at a field below it.
type Problem struct {
	Field, Message string
}

// Enabled reports whether the IMAP reader is configured.
func (i IMAP) Enabled() bool { return i.Host != "" }

// Validate reports every problem in the section.
func (c Config) Validate() []Problem {
	var probs []Problem
	add := func(f, m string) { probs = append(probs, Problem{f, m}) }
	if c.Address != "" {
		a, err := mail.ParseAddress(c.Address)
		switch {
		case err != nil || a.Name != "" || !strings.Contains(a.Address, "@"):
			add("address", "must be a plain address such as bounces@camaca.org")
		case strings.ContainsAny(a.Address[:strings.LastIndex(a.Address, "@")], "+"):
			add("address", "must not contain + (Crier adds +TOKEN to it)")
		}
	}
	if c.IMAP.Enabled() {
		if c.IMAP.Username == "" {
			add("imap.username", "the bounce mailbox needs a username")
		}
		if c.Address == "" {
			add("address", "set the bounce mailbox's address, so that bounces and mailed unsubscribes reach it")
		}
	}
	switch c.IMAP.TLS {
	case "", "tls", "starttls":
	case "none":
		// The mailbox password would cross the network in clear text.
		if c.IMAP.Enabled() && !loopback(c.IMAP.Host) {
			add("imap.tls", "none sends the mailbox password unencrypted: only for a server on this machine (localhost); use tls or starttls")
		}
	default:
		add("imap.tls", "must be tls, starttls or none")
	}
	if c.IMAP.Port < 0 || c.IMAP.Port > 65535 {
		add("imap.port", "must be a port number (993 for tls, 143 for starttls)")
	}
	if c.IMAP.Poll < 0 || (c.IMAP.Poll > 0 && c.IMAP.Poll < 10*time.Second) {
		add("imap.poll", "must be at least 10s (default 5m)")
	}
	if c.SoftLimit < 0 {
		add("soft_limit", "must be 1 or more (0: the default, 3)")
	}
	if c.SoftWindow < 0 {
		add("soft_window", "must be a positive duration such as 720h (0: the default, 30 days)")
	}
	for i, arn := range c.Webhooks.SES.TopicARNs {
		if !strings.HasPrefix(arn, "arn:aws:sns:") {
			add("webhooks.ses.topic_arns["+strconv.Itoa(i)+"]", "must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-bounces")
		}
	}
	pm := c.Webhooks.Postmark
	if (pm.Username != "") != pm.Password.IsSet() {
		add("webhooks.postmark", "needs both username and password (the basic auth in the webhook URL)")
	}
	if pm.Password.IsSet() && len(pm.Password.Reveal()) < 16 {
		add("webhooks.postmark.password", "must be at least 16 characters (e.g. `openssl rand -hex 16`)")
	}
	if k := c.Webhooks.SendGrid.PublicKey; k != "" {
		if _, err := parseECDSAKey(k); err != nil {
			add("webhooks.sendgrid.public_key", "must be the verification key SendGrid shows (base64 of an ECDSA P-256 public key): "+err.Error())
		}
	}
	return probs
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c Config) softLimit() int {
	if c.SoftLimit <= 0 {
		return DefaultSoftLimit
	}
	return c.SoftLimit
}

func (c Config) softWindow() time.Duration {
	if c.SoftWindow <= 0 {
		return DefaultSoftWindow
	}
	return c.SoftWindow
}
