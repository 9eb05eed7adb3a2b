package newsletter

import (
	"context"
	"log/slog"
	"time"

	"github.com/crierhq/crier/sqldb"
)

// shareEvery is how often a replica looks for newsletter sends it can help
// with.
const shareEvery = 2 * time.Second

// share makes this replica help with every newsletter send in progress,
// until ctx ends: one replica's delivery job starts a send (and finishes
// it), and every other replica claims pages of its recipients too, so a send
// goes as fast as all replicas together can send it, and carries on when
// the replica that started it dies. Only on PostgreSQL: with SQLite there is
// one process.
func (s *Sender) share(ctx context.Context) {
	if s.ledger.d != sqldb.Postgres {
		return
	}
	t := time.NewTicker(shareEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sends, err := s.ledger.sendsToJoin(ctx, s.isActive)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("looking for newsletter sends to help with", "err", err)
			}
			continue
		}
		for _, sh := range sends {
			if ctx.Err() != nil {
				return
			}
			if !sh.open {
				// Nothing to claim: the send may be done, and its
				// owner dead (its job is rescued minutes later).
				s.finishShared(ctx, s.log.With("send", sh.id), sh.id)
				continue
			}
			s.help(ctx, sh)
		}
	}
}

// isActive reports whether this replica sends or helps with sendID now.
func (s *Sender) isActive(sendID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[sendID]
}

// help sends pages of sh's recipients until none is left to claim; the
// replica whose delivery job owns the send finishes it.
func (s *Sender) help(ctx context.Context, sh sharedSend) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := helpRun{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.active[sh.id] {
		s.mu.Unlock()
		return
	}
	s.active[sh.id] = true
	s.helping[sh.id] = run
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, sh.id)
		delete(s.helping, sh.id)
		s.mu.Unlock()
		close(run.done)
	}()
	log := s.log.With("send", sh.id, "helping", true)
	p, err := s.f.formatSource(sh.id, sh.source)
	if err != nil {
		log.Error("cannot make the newsletter to help send it", "err", err)
		return
	}
	m := p.Body.(*Message)
	if m.SendID != sh.id {
		log.Error("the newsletter made again has another send id; not helping", "made", m.SendID)
		return
	}
	j, err := s.ledger.openJournal(ctx, sh.id)
	if err != nil {
		log.Error("opening the send's checkpoints", "err", err)
		return
	}
	defer j.close(context.WithoutCancel(ctx))
	log.Info("helping with a newsletter send")
	sent := 0
	for ctx.Err() == nil {
		r := s.pass(ctx, m, j, time.Time{}, log)
		sent += r.claimed
		if r.abort != nil {
			log.Warn("stopped helping with a newsletter send", "err", r.abort)
			return
		}
		if r.claimed == 0 || r.capWait > 0 || r.stopped {
			break
		}
	}
	log.Info("helped with a newsletter send", "taken", sent, slog.Bool("stopped", ctx.Err() != nil))
	if ctx.Err() == nil {
		s.finishShared(ctx, log, sh.id)
	}
}

// finishShared marks a send done when no recipient is left, whichever
// replica sees it first: the replica whose job owns the send may have died,
// and its job is only rescued minutes later.
func (s *Sender) finishShared(ctx context.Context, log *slog.Logger, sendID string) {
	done, err := s.ledger.finishIfDone(ctx, sendID)
	if err != nil {
		log.Warn("checking whether a newsletter send is done", "err", err)
		return
	}
	if !done {
		return
	}
	c, err := s.ledger.counts(ctx, sendID)
	if err != nil {
		log.Warn("newsletter sent, but its counts do not read", "err", err)
		return
	}
	log.Info("newsletter sent: no recipient is left, and this replica marked the send done",
		"sent", c[rcptSent], "failed", c[rcptFailed], "skipped", c[rcptSkipped])
}

// helpRun is one send this replica helps with.
type helpRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stopHelping stops this replica's help with a send, if it gives any, and
// waits until it has stopped (its pages in hand are finished or put back):
// the send's own job, arriving on this replica, takes over.
func (s *Sender) stopHelping(sendID string) {
	s.mu.Lock()
	run, ok := s.helping[sendID]
	s.mu.Unlock()
	if !ok {
		return
	}
	run.cancel()
	<-run.done
}
