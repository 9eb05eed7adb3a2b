package newsletter

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierhq/crier/channels"
)

// SMTP outages. When connections to the SMTP server fail (refused, dropped,
// 421), every connection fails at about the same moment: that is one
// outage, not one failure per connection, and every send of the Sender
// shares it. (A connection that had carried mail and breaks is dialled
// again at once first: it may just have idled too long.) The first failure
// starts it (one log line, with its cause); from then on the connections wait,
// and one of them at a time - the probe - tries the server again, after a
// wait that starts at the retry backoff and doubles up to the probe cap
// (WithOutageProbe). The first reply from the server (a message accepted,
// or refused with anything but 421) ends the outage (one log line, with how
// long it lasted) and every connection goes back to work. An attempt that
// has waited the outage limit (WithOutageLimit) hands the send back to the
// job queue, to be resumed a probe cap later: a send resumes within about a
// probe cap of the server's return, however long the outage.

// Defaults of the outage timings (options WithOutageProbe, WithOutageLimit).
const (
	// DefaultOutageProbe is the longest wait between two tries of an
	// unreachable SMTP server, so a send resumes within about this long of
	// its return.
	DefaultOutageProbe = 5 * time.Second
	// DefaultOutageLimit is how long one attempt of a send waits for an
	// unreachable SMTP server before it hands the send back to the job
	// queue (snoozed for a probe cap, using no delivery attempt).
	DefaultOutageLimit = time.Minute
)

// WithOutageProbe sets the longest wait between two tries of an unreachable
// SMTP server (DefaultOutageProbe); the first wait is the retry backoff.
func WithOutageProbe(d time.Duration) Option { return func(o *options) { o.probeMax = d } }

// WithOutageLimit sets how long one attempt waits for an unreachable SMTP
// server before it hands the send back to the job queue
// (DefaultOutageLimit).
func WithOutageLimit(d time.Duration) Option { return func(o *options) { o.outageLimit = d } }

// smtpHealth is what the sends of a Sender know of its SMTP server: every
// send (and every page a replica helps with) waits for the same outage.
type smtpHealth struct {
	opts *options
	log  *slog.Logger
	mu   sync.Mutex
	// outage is the outage in progress (nil: none); down says whether
	// there is one without taking mu, on every message's path.
	outage *smtpOutage
	down   atomic.Bool
}

// smtpOutage is one period in which the SMTP server does not answer a send.
type smtpOutage struct {
	since time.Time
	cause error
	// probes counts the tries that failed since it began.
	probes int
	// step is the wait before the next probe; next is when it may start.
	step time.Duration
	next time.Time
	// prober is the attempt trying the server now (nil: none); only its
	// outcome counts.
	prober *attempt
	// probed is closed when a probe ends without an answer (its
	// successor waits in turn); over when the outage ends.
	probed, over chan struct{}
}

// waitTurn returns when attempt a may use the server: at once when there is
// no outage, else as the probe when it is time for one, or when the outage
// is over. An error means the pass stops taking messages (a is then not the
// probe).
func (h *smtpHealth) waitTurn(ctx context.Context, a *attempt) error {
	if !h.down.Load() {
		return ctx.Err()
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.mu.Lock()
		o := h.outage
		if o == nil {
			h.mu.Unlock()
			return nil
		}
		if o.prober == nil {
			if wait := o.next.Sub(h.opts.now()); wait > 0 {
				h.mu.Unlock()
				if err := h.opts.sleep(ctx, wait); err != nil {
					return err
				}
				continue
			}
			o.prober = a
			h.mu.Unlock()
			return nil
		}
		probed, over := o.probed, o.over
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-probed:
		case <-over:
		}
	}
}

// connFailed records a failed connection (refused, dropped, 421) of the
// attempt a: it starts an outage, or, when a was the probe, schedules the
// next probe. Failures of other connections during an outage count for
// nothing: they are the same outage. It returns an error, to stop the
// send, when a's pass has waited for the server longer than the outage
// limit.
func (h *smtpHealth) connFailed(a *attempt, cause error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.opts.now()
	o := h.outage
	if o == nil {
		step := max(min(h.opts.backoff, h.opts.probeMax), time.Millisecond)
		h.outage = &smtpOutage{since: now, cause: cause, step: step, next: now.Add(step), probed: make(chan struct{}), over: make(chan struct{})}
		h.down.Store(true)
		h.log.Warn("SMTP server unreachable: the send waits, one connection tries the server again now and then",
			"cause", cause, "first_try_in", step, "longest_wait", h.opts.probeMax)
		return nil
	}
	if o.prober != a {
		return nil
	}
	o.probes++
	o.passTurn()
	waited := now.Sub(o.since)
	if o.since.Before(a.passStart) {
		waited = now.Sub(a.passStart)
	}
	if waited >= h.opts.outageLimit {
		return channels.RateLimited(fmt.Errorf("the SMTP server has not answered for %s (since %s UTC, first error: %v); the send goes on when it answers",
			now.Sub(o.since).Round(time.Second), o.since.UTC().Format("15:04:05"), o.cause), h.opts.probeMax)
	}
	o.step = min(o.step*2, h.opts.probeMax)
	o.next = now.Add(o.step)
	return nil
}

// answered records a reply of the server (a message accepted or refused):
// it ends an outage in progress.
func (h *smtpHealth) answered() {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	o := h.outage
	if o == nil {
		h.mu.Unlock()
		return
	}
	h.outage = nil
	h.down.Store(false)
	close(o.over)
	down := h.opts.now().Sub(o.since)
	h.mu.Unlock()
	h.log.Info("SMTP server answers again: the send resumes",
		"down_for", down.Round(time.Millisecond), "failed_tries", o.probes, "cause", o.cause)
}

// endProbe gives up a's turn as the probe, if it has it, when it ends
// without a verdict (the recipient left, the pass stops, a connection that
// had carried mail broke), so that another connection takes the turn.
func (h *smtpHealth) endProbe(a *attempt) {
	if !h.down.Load() {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o := h.outage; o != nil && o.prober == a {
		o.passTurn()
	}
}

// passTurn ends the current probe and wakes the connections waiting for
// it; the caller holds the lock.
func (o *smtpOutage) passTurn() {
	o.prober = nil
	close(o.probed)
	o.probed = make(chan struct{})
}
