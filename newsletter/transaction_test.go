package newsletter

import (
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	gosmtp "github.com/wneessen/go-mail/smtp"
)

// scripted is an SMTP server (go-smtp) that refuses recipients by their
// local part: bounce@ 550 5.1.1 at RCPT, full@ 452 4.2.2 at RCPT, reject@
// 554 5.7.1 after the message, and accepts everyone else.
type scripted struct {
	conns    atomic.Int64
	accepted atomic.Int64
}

type scriptedSession struct {
	s  *scripted
	to string
}

func (ss *scriptedSession) Reset()        { ss.to = "" }
func (ss *scriptedSession) Logout() error { return nil }
func (ss *scriptedSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (ss *scriptedSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "bounce@"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	case strings.HasPrefix(to, "full@"):
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	}
	ss.to = to
	return nil
}
func (ss *scriptedSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if strings.HasPrefix(ss.to, "reject@") {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "content refused"}
	}
	ss.s.accepted.Add(1)
	return nil
}

func startScripted(t *testing.T) (*scripted, int) {
	t.Helper()
	s := &scripted{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.conns.Add(1)
		return &scriptedSession{s: s}, nil
	}))
	srv.Domain = "scripted.test"
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return s, l.Addr().(*net.TCPAddr).Port
}

// dialScripted is a formatter and one SMTP connection to the scripted
// server on port.
func dialScripted(t *testing.T, port int) (*Formatter, *gosmtp.Client) {
	t.Helper()
	cfg := testConfig()
	cfg.SMTP = SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}
	client, err := newClient(cfg, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFormatter(cfg, testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := client.DialToSMTPClientWithContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f, conn
}

// TestTransact: each refusal is reported with its step, code and enhanced
// code, and leaves the connection able to carry the next message.
func TestTransact(t *testing.T) {
	srv, port := startScripted(t)
	f, conn := dialScripted(t, port)
	defer conn.Close()
	tests := []struct {
		to       string
		step     txStep
		code     int
		enhanced string
	}{
		{to: "ann@example.org"},
		{to: "bounce@example.org", step: stepRcpt, code: 550, enhanced: "5.1.1"},
		{to: "full@example.org", step: stepRcpt, code: 452, enhanced: "4.2.2"},
		{to: "reject@example.org", step: stepEnd, code: 554, enhanced: "5.7.1"},
		{to: "bob@example.org"},
	}
	for _, tt := range tests {
		msg, err := f.build("Subject", "<p>Hi</p>", "Hi", mustAddr(tt.to), "id."+tt.to, time.Unix(0, 0), "https://news.example.org/u?t=x", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = transact(conn, time.Minute, f.envelopeFrom, "<"+tt.to+">", msg)
		if tt.step == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.to, err)
			}
			continue
		}
		te, ok := err.(*txError)
		if !ok {
			t.Fatalf("%s: error %T %v, want a *txError", tt.to, err, err)
		}
		if te.step != tt.step || te.code != tt.code || te.enhanced != tt.enhanced || te.broken {
			t.Errorf("%s: step %s code %d enhanced %q broken %v; want %s %d %q and a usable connection",
				tt.to, te.step, te.code, te.enhanced, te.broken, tt.step, tt.code, tt.enhanced)
		}
	}
	if srv.accepted.Load() != 2 || srv.conns.Load() != 1 {
		t.Errorf("%d accepted over %d connections; want 2 over 1", srv.accepted.Load(), srv.conns.Load())
	}
}

// TestTransactBrokenConnection: a connection that died is reported broken,
// with no reply code, so the sender dials again.
func TestTransactBrokenConnection(t *testing.T) {
	_, port := startScripted(t)
	f, conn := dialScripted(t, port)
	conn.Close()
	msg, err := f.build("Subject", "<p>Hi</p>", "Hi", mustAddr("ann@example.org"), "id", time.Unix(0, 0), "https://news.example.org/u?t=x", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = transact(conn, time.Minute, f.envelopeFrom, "<ann@example.org>", msg)
	te, ok := err.(*txError)
	if !ok || te.code != 0 || !te.broken {
		t.Errorf("on a closed connection: %#v, want a broken connection without a reply code", err)
	}
}
