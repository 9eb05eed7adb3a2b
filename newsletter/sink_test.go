package newsletter

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a fast in-process SMTP server that discards what it receives
// (github.com/emersion/go-smtp), for the throughput benchmark and for
// replies Mailpit cannot give (421 on MAIL).
type sink struct {
	addr     *net.TCPAddr
	messages atomic.Int64
	// last is when the last message arrived (Unix nanoseconds).
	last atomic.Int64
	// fail421 is how many MAIL commands are answered 421 (then the
	// connection is closed) before mail is accepted.
	fail421 atomic.Int64
	rcpts   chan string
	// rcptReply, when set, answers RCPT TO (nil: accepted).
	rcptReply func(to string) error
}

func startSink(t testing.TB, recordRcpts bool) *sink {
	t.Helper()
	s := &sink{}
	if recordRcpts {
		s.rcpts = make(chan string, 1<<16)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{s: s, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().(*net.TCPAddr)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return s
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type sinkSession struct {
	s    *sink
	conn *smtp.Conn
}

func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }
func (ss *sinkSession) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.fail421.Add(-1) >= 0 {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "too busy, come back later"}
	}
	return nil
}
func (ss *sinkSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	if ss.s.rcptReply != nil {
		if err := ss.s.rcptReply(to); err != nil {
			return err
		}
	}
	if ss.s.rcpts != nil {
		ss.s.rcpts <- to
	}
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	ss.s.messages.Add(1)
	ss.s.last.Store(time.Now().UnixNano())
	return nil
}
