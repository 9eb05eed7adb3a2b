package newsletter

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/crierhq/crier/channels"
)

// SendAccountMail sends one plain-text mail about a console account (a
// password-reset link, an invitation) from the newsletter's sender, through
// its SMTP server, on a connection of its own.
func SendAccountMail(ctx context.Context, cfg Config, campaign channels.Campaign, to, subject, text string) error {
	if !cfg.HasCredentials() {
		return errors.New("channels.email.smtp.host is not set: there is no server to send account mail through")
	}
	f, err := newFormatter(cfg, campaign)
	if err != nil {
		return err
	}
	now := time.Now()
	m := f.commonMsg(subject)
	// address wants both parts; an account mail is text only.
	if err := f.address(m, &mail.Address{Address: to}, messageID("account", strconv.FormatInt(now.UnixNano(), 36), f.domain), now,
		stringBody(""), stringBody(text)); err != nil {
		return fmt.Errorf("account mail: %w", err)
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	if err := sendAlone(ctx, cfg, m); err != nil {
		return fmt.Errorf("sending account mail: %w", err)
	}
	return nil
}
