package newsletter

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/i18n"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// confirmation renders the double opt-in mail for sub.
func (f *Formatter) confirmation(sub subscribers.Subscriber, confirmURL string, now time.Time) (*gomail.Msg, error) {
	if safeURL(confirmURL) == "" {
		return nil, fmt.Errorf("confirmation link %q is not an http(s) URL", confirmURL)
	}
	lang := f.mailLanguage(sub.Language)
	data := confirmData{Campaign: f.campaign, Language: lang, Name: cleanHeader(sub.Name, 100), ConfirmURL: confirmURL,
		Subject:   cleanHeader(i18n.Builtin().T(lang, "mail.confirm_subject", f.campaign.Name), 200),
		Preheader: i18n.Builtin().T(lang, "mail.confirm_text", f.campaign.Name)}
	htmlOut, textOut, err := f.tmpl.render(tmplConfirmHTML, tmplConfirmText, data)
	if err != nil {
		return nil, err
	}
	msg, err := f.base(data.Subject, htmlOut, textOut, &mail.Address{Name: sub.Name, Address: sub.Email},
		messageID("confirm", strconv.FormatInt(sub.ID, 10)+"."+strconv.FormatInt(now.UnixNano(), 36), f.domain), now)
	if err != nil {
		return nil, err
	}
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	return msg, nil
}

// SendConfirmation sends sub the double opt-in mail over its own short SMTP
// connection. It implements subscribers.Mailer.
func (s *Sender) SendConfirmation(ctx context.Context, sub subscribers.Subscriber, confirmURL string) error {
	msg, err := s.f.confirmation(sub, confirmURL, s.opts.now())
	if err != nil {
		return fmt.Errorf("confirmation mail for subscriber %d: %w", sub.ID, err)
	}
	if err := s.sendOne(ctx, msg); err != nil {
		return fmt.Errorf("sending confirmation mail to subscriber %d: %w", sub.ID, err)
	}
	return nil
}

// sendOne sends one message on a connection of its own, signed when DKIM
// is configured.
func (s *Sender) sendOne(ctx context.Context, msg *gomail.Msg) error {
	conn, err := s.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return channels.Temporary(fmt.Errorf("connecting to the SMTP server: %w", err))
	}
	defer s.client.CloseWithSMTPClient(conn)
	if s.dkim != nil {
		return sendSigned(conn, msg, s.dkim)
	}
	if err := s.client.SendWithSMTPClient(conn, msg); err != nil && !msg.IsDelivered() {
		if code := smtpCode(err); code >= 500 {
			return channels.Permanent(err)
		}
		return channels.Temporary(err)
	}
	return nil
}

// SendTest sends one copy of p's newsletter to the address to, with "[Test]"
// before the subject and a placeholder unsubscribe link, for an organiser
// to check how it looks in a real mail client. It needs an SMTP host.
func SendTest(ctx context.Context, cfg Config, campaign channels.Campaign, p post.Post, to string) error {
	if !cfg.HasCredentials() {
		return errors.New("channels.email.smtp.host is not set: there is no server to send the test through (use `crier preview --html FILE` to look at the newsletter)")
	}
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("test recipient %q: %w", to, err)
	}
	f, err := newFormatter(cfg, campaign)
	if err != nil {
		return err
	}
	payload, err := f.Format(p)
	if err != nil {
		return err
	}
	m, err := channels.BodyOf[*Message](payload)
	if err != nil {
		return err
	}
	unsub := f.publicURL() + placeholderUnsubscribe
	htmlOut, textOut, err := f.personal(m, "", addr.Name, unsub)
	if err != nil {
		return err
	}
	msg, err := f.build("[Test] "+m.Subject, htmlOut, textOut, addr, messageID(m.SendID, "test."+strconv.FormatInt(time.Now().UnixNano(), 36), f.domain), time.Now(), unsub, m.inline)
	if err != nil {
		return err
	}
	return sendAlone(ctx, cfg, msg)
}

// sendAlone signs msg when DKIM is configured and sends it on a client
// and connection of its own (a test copy, an account mail).
func sendAlone(ctx context.Context, cfg Config, msg *gomail.Msg) error {
	dk, err := cfg.dkimSigner()
	if err != nil {
		return err
	}
	client, err := newClient(cfg, time.Minute)
	if err != nil {
		return err
	}
	return (&Sender{client: client, dkim: dk}).sendOne(ctx, msg)
}

// sendSigned sends msg, signed by dk, to its one recipient over conn (go-mail
// can only sign with its own signer, see dkim.go).
func sendSigned(conn *smtp.Client, msg *gomail.Msg, dk *dkimSigner) error {
	from, err := msg.GetSender(false)
	if err != nil {
		return channels.Permanent(fmt.Errorf("the mail's sender: %w", err))
	}
	rcpts, err := msg.GetRecipients()
	if err != nil || len(rcpts) != 1 {
		return channels.Permanent(fmt.Errorf("the mail has %d recipients, not one (%v)", len(rcpts), err))
	}
	// Both in angle brackets already, as transact wants them.
	err = transact(conn, time.Minute, from, rcpts[0], signedMsg{msg: msg, dkim: dk})
	if te := (*txError)(nil); errors.As(err, &te) && te.code >= 500 {
		return channels.Permanent(err)
	}
	if err != nil {
		return channels.Temporary(err)
	}
	return nil
}

// outboxMailer writes confirmation mails as .eml files when there is no SMTP
// server, so organisers can see (and follow) them.
type outboxMailer struct {
	f   *Formatter
	dir string
	err error
}

// NewOutboxMailer writes confirmation mails to outboxDir/email/confirmations/
// when there is no SMTP server.
func NewOutboxMailer(cfg Config, campaign channels.Campaign, outboxDir string) subscribers.Mailer {
	f, err := newFormatter(cfg, campaign)
	return &outboxMailer{f: f, dir: filepath.Join(outboxDir, cfg.Instance(), "confirmations"), err: err}
}

func (o *outboxMailer) SendConfirmation(ctx context.Context, sub subscribers.Subscriber, confirmURL string) error {
	if o.err != nil {
		return fmt.Errorf("confirmation mail: %w", o.err)
	}
	now := time.Now().UTC()
	msg, err := o.f.confirmation(sub, confirmURL, now)
	if err != nil {
		return fmt.Errorf("confirmation mail for subscriber %d: %w", sub.ID, err)
	}
	if err := os.MkdirAll(o.dir, 0o750); err != nil {
		return fmt.Errorf("creating the confirmations outbox: %w", err)
	}
	name := filepath.Join(o.dir, fmt.Sprintf("%s-subscriber-%d.eml", now.Format("20060102T150405.000000000Z"), sub.ID))
	if err := msg.WriteToFile(name); err != nil {
		return fmt.Errorf("writing confirmation mail to the outbox: %w", err)
	}
	return nil
}

// EraseConfirmations removes the confirmation mails NewOutboxMailer wrote
// for subscriber id under outboxDir (they hold the address), for an erasure.
func (c Config) EraseConfirmations(outboxDir string, id int64) error {
	return eraseConfirmations(filepath.Join(outboxDir, c.Instance(), "confirmations"), id)
}

// eraseConfirmations removes subscriber id's confirmation mails from dir.
func eraseConfirmations(dir string, id int64) error {
	pattern := filepath.Join(dir, fmt.Sprintf("*-subscriber-%d.eml", id))
	files, err := filepath.Glob(pattern)
	if err != nil {
		return fmt.Errorf("finding confirmation mails of subscriber %d: %w", id, err)
	}
	for _, f := range files {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("erasing a confirmation mail of subscriber %d: %w", id, err)
		}
	}
	return nil
}

// mailLanguage is the catalogue language of a supporter's mail: theirs
// (recorded at sign-up or chosen on the preferences page) when Crier has a
// catalogue for it, else campaign.language, else English.
func (f *Formatter) mailLanguage(lang string) string {
	c := i18n.Builtin()
	if l := c.Supported(lang); l != "" {
		return l
	}
	if l := c.Supported(f.campaign.Language); l != "" {
		return l
	}
	return i18n.Default
}
