package email

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/newsletter"
)

// ConnectFields are the mail server the newsletter is handed to, and the
// address it comes from. Their names are the section's keys.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "smtp.host", Label: "Mail server (SMTP)", Help: "Your mail provider's SMTP server, such as smtp.example.org (in its help pages under \"SMTP\" or \"sending from other programs\")."},
		{Name: "smtp.port", Label: "Port", Optional: true, Help: "Empty for the usual one: 587 with STARTTLS, 465 with TLS."},
		{Name: "smtp.tls", Label: "Security", Optional: true, Help: "starttls (the default, port 587) or tls (port 465); none only for a server on this machine."},
		{Name: "smtp.username", Label: "User name", Optional: true, Help: "The login for the SMTP server, often the sending address."},
		{Name: "smtp.password", Label: "Password", Secret: true, Optional: true, Help: "The SMTP password, or an app password if your provider asks for one."},
		{Name: "from", Label: "From", Help: "Who the newsletter comes from, such as \"CAMACA <news@camaca.org>\": an address the server may send from."},
	}
}

// CheckConnection connects to the server with its security and login,
// sends nothing, and names the sending address and the server.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	v := func(k string) string { return strings.TrimSpace(c.Values[k]) }
	cfg := Config{From: v("from"), SMTP: SMTP{Host: v("smtp.host"), TLS: v("smtp.tls"), Username: v("smtp.username"),
		Password: secret.Secret(v("smtp.password"))}}
	if p := v("smtp.port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return "", &channels.ConnectError{Field: "smtp.port", Reason: "must be a port number such as 587 or 465"}
		}
		cfg.SMTP.Port = n
	}
	from, err := mail.ParseAddress(cfg.From)
	switch {
	case cfg.SMTP.Host == "":
		return "", &channels.ConnectError{Field: "smtp.host", Reason: "give the SMTP server's name, such as smtp.example.org"}
	case err != nil:
		return "", &channels.ConnectError{Field: "from", Reason: "must be an address such as \"CAMACA <news@camaca.org>\""}
	}
	for _, p := range cfg.Validate() {
		if strings.HasPrefix(p.Field, "smtp.") {
			return "", &channels.ConnectError{Field: p.Field, Reason: p.Message}
		}
	}
	if err := newsletter.CheckSMTP(ctx, cfg); err != nil {
		var refused *newsletter.SMTPRefused
		if errors.As(err, &refused) {
			return "", &channels.ConnectError{Field: "smtp.password", Reason: "the mail server refused this user name and password (" + refused.Reply + ")"}
		}
		return "", &channels.ConnectError{Field: "smtp.host", Reason: "Crier could not connect to this mail server with this port and security: " + err.Error()}
	}
	return from.Address + " via " + cfg.SMTP.Host, nil
}
