package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crierhq/crier/subscribers"
)

// Confirmation is one double opt-in mail waiting to go out. It is a job's
// arguments (Kind is River's JobArgs), so it keeps only what the mail needs
// and cannot be read again later: the link is made when the mail is sent,
// from the subscriber as they are then.
type Confirmation struct {
	Subscriber int64 `json:"subscriber"`
	// Name is the name typed in the form, which greets them; empty: the
	// stored one.
	Name string `json:"name,omitempty"`
	// Language is the language of the page they used, and of the mail.
	Language string `json:"language"`
	// Issued is when the link's validity starts (the form's post).
	Issued time.Time `json:"issued"`
}

// Kind names the job.
func (Confirmation) Kind() string { return "confirmation_mail" }

// SendConfirmation sends one confirmation mail; an error means it was not
// sent and may be tried again. lastTry says no try comes after this one: the
// supporter may then submit the form again at once.
type SendConfirmation func(ctx context.Context, c Confirmation, lastTry bool) error

// ConfirmationQueue keeps confirmation mails until they are sent. The
// daemon's is a River job queue in the database (cmd/crier), so a stop or a
// crash loses none; without one the pages keep them in memory.
type ConfirmationQueue interface {
	// Serve is called once, when the pages are mounted, with what sends
	// one mail.
	Serve(send SendConfirmation)
	// Queue keeps c until it is sent.
	Queue(ctx context.Context, c Confirmation) error
}

// sendConfirmation is the newsletter's SendConfirmation: it reads the
// subscriber again (they may have been erased or confirmed meanwhile) and
// mails them their link.
func (n *newsletter) sendConfirmation(ctx context.Context, c Confirmation, lastTry bool) error {
	sub, err := n.opts.Store.Get(ctx, c.Subscriber)
	if errors.Is(err, subscribers.ErrNotFound) {
		n.opts.Logger.Info("confirmation mail not sent: the subscriber was erased", "subscriber", c.Subscriber)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading subscriber %d for their confirmation mail: %w", c.Subscriber, err)
	}
	if sub.Status == subscribers.Confirmed {
		n.opts.Logger.Info("confirmation mail not sent: already confirmed", "subscriber", c.Subscriber)
		return nil
	}
	link := n.opts.Signer.ConfirmURL(n.opts.PublicURL, sub, c.Issued)
	if c.Name != "" {
		sub.Name = c.Name
	}
	sub.Language = c.Language
	if err := n.opts.Mailer.SendConfirmation(ctx, sub, link); err != nil {
		n.opts.Logger.Error("sending confirmation mail failed", "subscriber", c.Subscriber, "last_try", lastTry, "err", err)
		n.metrics.inc(evMailFailed)
		if lastTry {
			// Let the supporter try again at once rather than after the
			// resend pause.
			n.releaseClaim(c.Subscriber)
		}
		return err
	}
	n.opts.Logger.Info("confirmation mail sent", "subscriber", c.Subscriber)
	return nil
}

// Without a durable queue, confirmation mails are sent by a few workers from
// a bounded queue in memory, so a flood of sign-ups from many addresses
// cannot pile up goroutines. What it holds is lost when the process stops.
const (
	mailWorkers = 2
	mailQueue   = 1000
	mailTimeout = 2 * time.Minute
)

// memoryQueue is the ConfirmationQueue used without a durable one (tests,
// and a server embedding the pages without the daemon's job queue).
type memoryQueue struct {
	mails chan Confirmation
	// inflight counts queued and sending mails (tests wait on it).
	inflight sync.WaitGroup
}

var errQueueFull = errors.New("the confirmation mail queue is full")

func newMemoryQueue() *memoryQueue {
	return &memoryQueue{mails: make(chan Confirmation, mailQueue)}
}

func (q *memoryQueue) Serve(send SendConfirmation) {
	for range mailWorkers {
		go func() {
			for c := range q.mails {
				ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
				send(ctx, c, true)
				cancel()
				q.inflight.Done()
			}
		}()
	}
}

func (q *memoryQueue) Queue(_ context.Context, c Confirmation) error {
	q.inflight.Add(1)
	select {
	case q.mails <- c:
		return nil
	default:
		q.inflight.Done()
		return errQueueFull
	}
}
