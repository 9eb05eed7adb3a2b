package newsletter

import (
	"context"
	"regexp"
	"time"
)

// SMTPRefused is CheckSMTP's error when the server refused the user name
// or password (530, 534, 535).
type SMTPRefused struct{ Reply string }

func (e *SMTPRefused) Error() string {
	return "the mail server refused the user name or password: " + e.Reply
}

// CheckSMTP connects to the SMTP server cfg names, with its TLS and
// authentication, sends nothing and hangs up: the check of a mail server
// connected from the console. A refused login is *SMTPRefused.
func CheckSMTP(ctx context.Context, cfg Config) error {
	client, err := newClient(cfg, 30*time.Second)
	if err != nil {
		return err
	}
	if err := client.DialWithContext(ctx); err != nil {
		if loginRefused(err) {
			return &SMTPRefused{Reply: replyText(err)}
		}
		return err
	}
	return client.Close()
}

// authFailed finds the reply code in go-mail's "SMTP AUTH failed: 535 ...".
var authFailed = regexp.MustCompile(`AUTH failed: (53[045])\b`)

// loginRefused reports whether err is the server refusing the login (530
// authentication required, 534 mechanism too weak, 535 credentials
// invalid).
func loginRefused(err error) bool {
	if c := smtpCode(err); c == 530 || c == 534 || c == 535 {
		return true
	}
	return authFailed.MatchString(err.Error())
}
