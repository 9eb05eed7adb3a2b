package email

import (
	"net/mail"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// Config is the email section of config.yaml.
type Config struct {
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	SMTP    SMTP          `yaml:"smtp"`
	// From and ReplyTo are addresses such as "CAMACA <news@camaca.org>".
	From    string `yaml:"from"`
	ReplyTo string `yaml:"reply_to"`
	// ListID names the list in the List-Id header, e.g. news.camaca.org.
	ListID string `yaml:"list_id"`
	// Templates is a folder with the organisation's own templates; empty
	// means the built-in ones.
	Templates string `yaml:"templates"`
	// LinkSecret signs confirm and unsubscribe links.
	LinkSecret secret.Secret `yaml:"link_secret"`
	DKIM       DKIM          `yaml:"dkim"`
	// Concurrency is the number of SMTP connections used by a send.
	Concurrency int `yaml:"concurrency"`
	// RatePerSecond, RatePerHour and RatePerDay cap a send (0 means no cap).
	RatePerSecond float64 `yaml:"rate_per_second"`
	RatePerHour   int     `yaml:"rate_per_hour"`
	RatePerDay    int     `yaml:"rate_per_day"`
}

// SMTP is where newsletters are handed over.
type SMTP struct {
	Host     string        `yaml:"host"`
	Port     int           `yaml:"port"`
	Username string        `yaml:"username"`
	Password secret.Secret `yaml:"password"`
	// TLS is "starttls" (default), "tls" or "none".
	TLS string `yaml:"tls"`
}

// DKIM signs outgoing mail when Domain and a key are set.
type DKIM struct {
	Domain   string        `yaml:"domain"`
	Selector string        `yaml:"selector"`
	KeyFile  string        `yaml:"key_file"`
	Key      secret.Secret `yaml:"key"`
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.SMTP.Host != "" }

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	for field, addr := range map[string]string{"from": c.From, "reply_to": c.ReplyTo} {
		if addr == "" {
			continue
		}
		if _, err := mail.ParseAddress(addr); err != nil {
			probs = append(probs, channels.ConfigProblem{Field: field, Message: "must be an address such as \"CAMACA <news@camaca.org>\""})
		}
	}
	switch c.SMTP.TLS {
	case "", "starttls", "tls", "none":
	default:
		probs = append(probs, channels.ConfigProblem{Field: "smtp.tls", Message: "must be starttls, tls or none"})
	}
	if c.Concurrency < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "concurrency", Message: "must be 0 (default) or more"})
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		probs = append(probs, channels.ConfigProblem{Field: "smtp.host", Message: "mode is send but no SMTP host is set"})
	}
	return probs
}
