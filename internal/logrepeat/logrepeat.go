// Package logrepeat provides a slog handler that logs a repeated warning or
// error once, and a summary when it stops. During an outage (the database
// or a mail server gone for 20 s) a component that retries in a loop - River
// fetching jobs every 100 ms, a replica looking for sends to help with -
// otherwise writes the same line a hundred times, and the one line that
// says what happened is lost among them.
package logrepeat

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultQuiet is how long a message must not come again for its repeats
// to be over.
const DefaultQuiet = 10 * time.Second

// New returns a handler that passes records to next, except that a record
// at WARN or above whose level and message were already passed less than
// quiet ago (DefaultQuiet when 0) is only counted. Once such a message has
// not come for quiet, one INFO record says how often it came and for how
// long, with the attributes of its last occurrence.
func New(next slog.Handler, quiet time.Duration) slog.Handler {
	if quiet <= 0 {
		quiet = DefaultQuiet
	}
	return &handler{next: next, st: &state{quiet: quiet, seen: map[key]*streak{}}}
}

type key struct {
	level slog.Level
	msg   string
}

// streak is one message coming again and again.
type streak struct {
	first, last time.Time
	// repeats counts the occurrences not passed on; lastRec is the latest
	// of them, and lastNext the handler (with its attributes) it came to.
	repeats  int
	lastRec  slog.Record
	lastNext slog.Handler
	timer    *time.Timer
}

// state is shared by a handler and those WithAttrs and WithGroup derive
// from it: River logs through many derived loggers.
type state struct {
	quiet time.Duration
	mu    sync.Mutex
	seen  map[key]*streak
}

type handler struct {
	next slog.Handler
	st   *state
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(as), st: h.st}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), st: h.st}
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	k := key{r.Level, r.Message}
	st := h.st
	st.mu.Lock()
	if s := st.seen[k]; s != nil {
		s.repeats++
		s.last = time.Now()
		s.lastRec, s.lastNext = r.Clone(), h.next
		st.mu.Unlock()
		return nil
	}
	now := time.Now()
	s := &streak{first: now, last: now}
	st.seen[k] = s
	s.timer = time.AfterFunc(st.quiet, func() { st.check(k, s) })
	st.mu.Unlock()
	return h.next.Handle(ctx, r)
}

// check ends the streak of k once it has been quiet long enough, with a
// summary when it repeated; else it looks again when it may be.
func (st *state) check(k key, s *streak) {
	st.mu.Lock()
	if wait := st.quiet - time.Since(s.last); wait > 0 {
		s.timer.Reset(wait)
		st.mu.Unlock()
		return
	}
	delete(st.seen, k)
	st.mu.Unlock()
	if s.repeats == 0 {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "stopped repeating: "+k.msg, 0)
	r.AddAttrs(slog.Int("repeats", s.repeats), slog.Duration("for", s.last.Sub(s.first).Round(time.Millisecond)),
		slog.String("repeated_level", k.level.String()))
	s.lastRec.Attrs(func(a slog.Attr) bool {
		r.AddAttrs(slog.Attr{Key: "last_" + a.Key, Value: a.Value})
		return true
	})
	_ = s.lastNext.Handle(context.Background(), r)
}
