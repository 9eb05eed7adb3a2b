package newsletter

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"

	gomail "github.com/wneessen/go-mail"
)

// build assembles one newsletter mail with every list header: List-Id,
// List-Unsubscribe (the https one-click link and a mailto), RFC 8058
// List-Unsubscribe-Post, Precedence: bulk and Auto-Submitted.
func (f *Formatter) build(subject, htmlBody, textBody string, to *mail.Address, msgID string, date time.Time, unsubscribeURL string, inline []inlineImage) (*gomail.Msg, error) {
	m := f.newsletterMsg(subject, inline)
	if err := f.personalise(m, to, msgID, date, unsubscribeURL, f.mailto, stringBody(htmlBody), stringBody(textBody)); err != nil {
		return nil, err
	}
	return m, nil
}

// body writes a mail part's content (before transfer encoding).
type body func(io.Writer) (int64, error)

func stringBody(s string) body {
	return func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, s)
		return int64(n), err
	}
}

// newsletterMsg is a newsletter mail with what every recipient's copy
// shares (From, Reply-To, Subject and the list headers); personalise makes
// it one recipient's. A send reuses one per SMTP connection rather than
// building every header again for every recipient.
func (f *Formatter) newsletterMsg(subject string, inline []inlineImage) *gomail.Msg {
	m := f.commonMsg(subject)
	// Local images travel in the mail (multipart/related), shown through
	// cid: addresses: nothing to fetch, nothing to host.
	for _, img := range inline {
		m.EmbedReadSeeker(img.Name, bytes.NewReader(img.Data), gomail.WithFileContentID("<"+img.CID+">"), // RFC 2392: in angle brackets
			gomail.WithFileContentType(gomail.ContentType(img.ContentType)))
	}
	// go-mail's reader stays part-read after a failed write; a message
	// reused for the next recipient must always write the whole picture.
	for i, file := range m.GetEmbeds() {
		data := inline[i].Data
		file.Writer = func(w io.Writer) (int64, error) {
			n, err := w.Write(data)
			return int64(n), err
		}
	}
	// Plain generated headers (not go-mail's preformatted ones, which are
	// written in map order) keep the output the same for the same input.
	m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	m.SetGenHeader("List-Id", f.listIDHeader)
	m.SetBulk()
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	return m
}

// personalise makes m (from newsletterMsg) the mail to one recipient. It
// sets every per-recipient field (To, Message-ID, Date, List-Unsubscribe
// and both parts) on every call, so a reused m never carries anything of
// the previous recipient's. mailto is the List-Unsubscribe mailto (the
// recipient's signed address of the bounce mailbox when there is one).
func (f *Formatter) personalise(m *gomail.Msg, to *mail.Address, msgID string, date time.Time, unsubscribeURL, mailto string, htmlBody, textBody body) error {
	if strings.ContainsFunc(unsubscribeURL, unicode.IsSpace) || strings.ContainsAny(unsubscribeURL, "<>,") {
		return fmt.Errorf("unsubscribe link %q cannot go in a header", unsubscribeURL)
	}
	if err := f.address(m, to, msgID, date, htmlBody, textBody); err != nil {
		return err
	}
	m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+unsubscribeURL+">, <"+mailto+">")
	return nil
}

// base is a mail with From, Reply-To, To, Subject, Message-ID, Date and the
// two alternative parts, without list headers (confirmation and test mail).
func (f *Formatter) base(subject, htmlBody, textBody string, to *mail.Address, msgID string, date time.Time) (*gomail.Msg, error) {
	m := f.commonMsg(subject)
	if err := f.address(m, to, msgID, date, stringBody(htmlBody), stringBody(textBody)); err != nil {
		return nil, err
	}
	return m, nil
}

// commonMsg is a mail with From, Reply-To, Subject and User-Agent.
func (f *Formatter) commonMsg(subject string) *gomail.Msg {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	// Copies: go-mail keeps the pointers.
	from := *f.from
	m.FromMailAddress(&from)
	if f.replyTo != nil {
		rt := *f.replyTo
		m.ReplyToMailAddress(&rt)
	}
	m.Subject(cleanHeader(subject, 200))
	m.SetUserAgent("Crier")
	return m
}

// address sets the recipient, Message-ID, Date and the two parts of m.
func (f *Formatter) address(m *gomail.Msg, to *mail.Address, msgID string, date time.Time, htmlBody, textBody body) error {
	rcpt := *to
	rcpt.Name = cleanHeader(rcpt.Name, 100)
	if strings.ContainsFunc(rcpt.Address, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) || strings.ContainsAny(rcpt.Address, "<>,;") {
		return fmt.Errorf("recipient address %q is not a plain address", rcpt.Address)
	}
	m.ToMailAddress(&rcpt)
	m.SetMessageIDWithValue(msgID)
	if date.IsZero() {
		date = time.Unix(0, 0).UTC()
	}
	m.SetDateWithValue(date)
	m.SetBodyWriter(gomail.TypeTextPlain, textBody)
	m.AddAlternativeWriter(gomail.TypeTextHTML, htmlBody)
	return nil
}

// mailtoUnsubscribe is the List-Unsubscribe mailto: the reply-to (or from)
// address with subject "unsubscribe", read by the organisers.
func (f *Formatter) mailtoUnsubscribe() string {
	addr := f.from.Address
	if f.replyTo != nil {
		addr = f.replyTo.Address
	}
	return "mailto:" + addr + "?subject=unsubscribe"
}

// listID is the List-Id header value (RFC 2919): an optional phrase and the
// list's dotted id in angle brackets.
func listID(name, id string) string {
	name = cleanHeader(name, 100)
	if name == "" {
		return "<" + id + ">"
	}
	name = strings.ReplaceAll(strings.ReplaceAll(name, `"`, "'"), `\`, "/")
	if enc := mime.QEncoding.Encode("utf-8", name); enc != name {
		return enc + " <" + id + ">"
	}
	return `"` + name + `" <` + id + ">"
}
