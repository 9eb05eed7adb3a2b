package bounces

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// doneFlag marks the messages Crier has read, so that each is handled
// once and the organisers' own mail in the same box is left unread.
const doneFlag imap.Flag = "$CrierProcessed"

// Reader reads the bounce mailbox over IMAP and hands each new message to
// the processor.
type Reader struct {
	cfg  IMAP
	proc *Processor
	log  *slog.Logger
	// TLSConfig is used for tls and starttls (tests give their own CA).
	TLSConfig *tls.Config
}

// NewReader returns the mailbox reader.
func NewReader(cfg IMAP, proc *Processor, log *slog.Logger) *Reader {
	if log == nil {
		log = slog.Default()
	}
	return &Reader{cfg: cfg, proc: proc, log: log.With("component", "bounce-mailbox")}
}

// Summary counts what one read of the mailbox did, by Outcome.Action.
type Summary map[string]int

// Run reads the mailbox now and then every imap.poll until ctx is done, and
// returns once a read under way has given up (the daemon waits for it at a
// stop). A failed read is logged and tried again at the next poll: the
// messages stay in the mailbox.
func (r *Reader) Run(ctx context.Context) {
	defer r.log.Info("bounce mailbox reader stopped")
	every := r.cfg.Poll
	if every <= 0 {
		every = DefaultPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		sum, err := r.Poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.Error("reading the bounce mailbox failed; trying again at the next poll", "host", r.cfg.Host, "err", err)
		case len(sum) > 0:
			r.log.Info("bounce mailbox read", "outcomes", map[string]int(sum))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reader) address() string {
	port := r.cfg.Port
	if port == 0 {
		port = 993
		if r.cfg.TLS == "starttls" || r.cfg.TLS == "none" {
			port = 143
		}
	}
	return net.JoinHostPort(r.cfg.Host, strconv.Itoa(port))
}

// dial connects and, for tls and starttls, shakes hands, all under ctx: a
// server that accepts and then says nothing must not hold a stopping daemon
// for the dial timeout.
func (r *Reader) dial(ctx context.Context) (*imapclient.Client, error) {
	opts := &imapclient.Options{TLSConfig: r.TLSConfig}
	if opts.TLSConfig == nil {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	opts.TLSConfig = opts.TLSConfig.Clone()
	if opts.TLSConfig.ServerName == "" {
		opts.TLSConfig.ServerName = r.cfg.Host
	}
	conn, err := (&net.Dialer{Timeout: 30 * time.Second}).DialContext(ctx, "tcp", r.address())
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	switch r.cfg.TLS {
	case "none":
		return imapclient.New(conn, opts), nil
	case "starttls":
		return imapclient.NewStartTLS(conn, opts)
	default:
		tcfg := opts.TLSConfig.Clone()
		if tcfg.NextProtos == nil {
			tcfg.NextProtos = []string{"imap"}
		}
		tc := tls.Client(conn, tcfg)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return imapclient.New(tc, opts), nil
	}
}

// Poll reads every message not yet handled, acts on it and flags it. It
// stops at the first error of Crier's own (the database), leaving the rest
// for the next poll.
func (r *Reader) Poll(ctx context.Context) (Summary, error) {
	c, err := r.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", r.address(), err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Login(r.cfg.Username, r.cfg.Password.Reveal()).Wait(); err != nil {
		return nil, fmt.Errorf("logging in to %s as %s: %w", r.address(), r.cfg.Username, err)
	}
	box := r.cfg.Mailbox
	if box == "" {
		box = "INBOX"
	}
	if _, err := c.Select(box, nil).Wait(); err != nil {
		return nil, fmt.Errorf("opening mailbox %s: %w", box, err)
	}
	found, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{doneFlag, imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("searching mailbox %s: %w", box, err)
	}
	sum := Summary{}
	uids := found.AllUIDs()
	for len(uids) > 0 {
		n := min(len(uids), 25)
		if err := r.batch(ctx, c, uids[:n], sum); err != nil {
			return sum, err
		}
		uids = uids[n:]
	}
	if r.cfg.DeleteProcessed && sum["deleted"] > 0 {
		if err := c.Expunge().Close(); err != nil {
			return sum, fmt.Errorf("expunging handled messages: %w", err)
		}
	}
	delete(sum, "deleted")
	_ = c.Logout().Wait()
	return sum, nil
}

func (r *Reader) batch(ctx context.Context, c *imapclient.Client, uids []imap.UID, sum Summary) error {
	// Sizes first: a message too large to be a bounce is never downloaded.
	sizes, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return fmt.Errorf("fetching message sizes: %w", err)
	}
	var small []imap.UID
	var msgs []*imapclient.FetchMessageBuffer
	for _, m := range sizes {
		if m.RFC822Size > MaxMessageBytes {
			msgs = append(msgs, m) // handled as too large, without its body
			continue
		}
		small = append(small, m.UID)
	}
	body := &imap.FetchItemBodySection{Peek: true}
	if len(small) > 0 {
		bodies, err := c.Fetch(imap.UIDSetNum(small...), &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
		if err != nil {
			return fmt.Errorf("fetching messages: %w", err)
		}
		msgs = append(msgs, bodies...)
	}
	for _, m := range msgs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		out, err := r.handle(ctx, m.RFC822Size, m.FindBodySection(body))
		if err != nil {
			return fmt.Errorf("handling message %d: %w", m.UID, err)
		}
		sum[out.Action]++
		flags := []imap.Flag{doneFlag}
		switch out.Action {
		case "ignored", "unmatched":
			// Left unread: it may be a person writing to the campaign.
		default:
			flags = append(flags, imap.FlagSeen)
			if r.cfg.DeleteProcessed {
				flags = append(flags, imap.FlagDeleted)
				sum["deleted"]++
			}
		}
		if err := c.Store(imap.UIDSetNum(m.UID), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: flags}, nil).Close(); err != nil {
			return fmt.Errorf("flagging message %d: %w", m.UID, err)
		}
	}
	return nil
}

// handle runs the processor on one message; a message that makes the
// parser panic is set aside as ignored rather than stopping the reader.
func (r *Reader) handle(ctx context.Context, size int64, raw []byte) (out Outcome, err error) {
	if size > MaxMessageBytes || len(raw) > MaxMessageBytes {
		return Outcome{Action: "ignored", Reason: ErrTooLarge.Error()}, nil
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("a message in the bounce mailbox could not be read; it is left as it is", "panic", fmt.Sprint(p))
			out, err = Outcome{Action: "ignored", Reason: "unreadable"}, nil
		}
	}()
	return r.proc.HandleMessage(ctx, raw)
}
