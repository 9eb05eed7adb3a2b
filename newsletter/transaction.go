package newsletter

import (
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"regexp"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// A newsletter message goes out as one SMTP transaction on a connection
// that carries many: MAIL FROM, RCPT TO, DATA, the message (go-mail writes
// it), and the final dot. This is go-mail's Client.SendWithSMTPClient
// without the RSET it sends after every accepted message: a completed
// transaction already clears the server's state (RFC 5321, 4.1.1.4), so the
// extra round trip per message bought nothing. RSET is still sent after a
// refused command, as go-mail does.

// txStep is where in a transaction a failure happened.
type txStep int

const (
	stepMail    txStep = iota + 1 // MAIL FROM refused: the sender address
	stepRcpt                      // RCPT TO refused: the recipient
	stepData                      // DATA refused
	stepContent                   // writing the message failed (connection)
	stepEnd                       // the final dot: the message refused
)

func (s txStep) String() string {
	switch s {
	case stepMail:
		return "MAIL FROM"
	case stepRcpt:
		return "RCPT TO"
	case stepData:
		return "DATA"
	case stepContent:
		return "sending the message"
	default:
		return "end of data"
	}
}

// txError is a failed transaction: the step, and the server's reply code
// (0 when there was no reply: the connection failed) with its enhanced
// status code when the server gives them.
type txError struct {
	step     txStep
	code     int
	enhanced string
	// broken: the connection cannot carry another message.
	broken bool
	err    error
}

func (e *txError) Error() string { return e.step.String() + ": " + e.err.Error() }
func (e *txError) Unwrap() error { return e.err }

var enhancedCode = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}\b`)

func newTxError(conn *smtp.Client, step txStep, err error) *txError {
	te := &txError{step: step, err: err, broken: true}
	var pe *textproto.Error
	if errors.As(err, &pe) {
		te.code = pe.Code
		te.broken = pe.Code == 421 // the server is closing the connection
		if ok, _ := conn.Extension("ENHANCEDSTATUSCODES"); ok {
			te.enhanced = enhancedCode.FindString(pe.Msg)
		}
	}
	return te
}

// transact sends msg from the envelope sender to one recipient over conn
// (both in angle brackets, as net/mail's Address.String writes them).
// It returns nil once the server accepted the message, or a *txError.
func transact(conn *smtp.Client, timeout time.Duration, from, to string, msg io.WriterTo) error {
	return transactAfter(conn, timeout, from, to, msg, nil)
}

// errNotEnded is transactAfter's error when beforeEnd failed: the message
// was not ended, so the server did not accept it.
var errNotEnded = errors.New("message not ended: the previous message's checkpoint failed")

// transactAfter is transact calling beforeEnd (when not nil) just before
// the message's final dot, the moment the server would accept it: what
// must happen before this message can be accepted (the previous message's
// checkpoint) overlaps with sending this one.
func transactAfter(conn *smtp.Client, timeout time.Duration, from, to string, msg io.WriterTo, beforeEnd func() error) error {
	if err := conn.UpdateDeadline(timeout); err != nil {
		return &txError{step: stepMail, err: err, broken: true}
	}
	refused := func(step txStep, err error) error {
		te := newTxError(conn, step, err)
		if !te.broken {
			// Clear the half-done transaction so the connection carries on.
			te.broken = conn.Reset() != nil
		}
		return te
	}
	if err := conn.Mail(from); err != nil {
		return refused(stepMail, err)
	}
	if err := conn.Rcpt(to); err != nil {
		return refused(stepRcpt, err)
	}
	w, err := conn.Data()
	if err != nil {
		return refused(stepData, err)
	}
	if sp, ok := msg.(*splicedMail); ok && conn.Text != nil {
		err = sp.writeData(conn.Text.W, w)
	} else {
		_, err = msg.WriteTo(w)
	}
	if err != nil {
		return &txError{step: stepContent, err: err, broken: true}
	}
	if beforeEnd != nil {
		if err := beforeEnd(); err != nil {
			// The connection is dropped without the dot: the server
			// discards the message.
			return &txError{step: stepContent, err: fmt.Errorf("%w: %w", errNotEnded, err), broken: true}
		}
	}
	if err := w.Close(); err != nil {
		return newTxError(conn, stepEnd, err)
	}
	return nil
}
