// Package testlog provides a slog handler that keeps what is logged, for
// tests that count log lines (an outage must log once, not once per retry)
// or check a line's level.
package testlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// Capture is a slog.Handler that keeps every record, safe for concurrent
// use; loggers derived with With share its records and add their
// attributes.
type Capture struct {
	st    *store
	attrs []slog.Attr
}

type store struct {
	mu   sync.Mutex
	recs []slog.Record
}

// New returns an empty capture.
func New() *Capture { return &Capture{st: &store{}} }

func (c *Capture) Enabled(context.Context, slog.Level) bool { return true }

func (c *Capture) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(c.attrs...)
	c.st.mu.Lock()
	c.st.recs = append(c.st.recs, r)
	c.st.mu.Unlock()
	return nil
}

func (c *Capture) WithAttrs(as []slog.Attr) slog.Handler {
	return &Capture{st: c.st, attrs: append(c.attrs[:len(c.attrs):len(c.attrs)], as...)}
}

// WithGroup is accepted and ignored: tests match on keys alone.
func (c *Capture) WithGroup(string) slog.Handler { return c }

// Records returns what was logged at level or above whose message contains
// msg ("" for all).
func (c *Capture) Records(level slog.Level, msg string) []slog.Record {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	var out []slog.Record
	for _, r := range c.st.recs {
		if r.Level >= level && strings.Contains(r.Message, msg) {
			out = append(out, r)
		}
	}
	return out
}

// Lines formats records one a line ("LEVEL message key=value ..."), for a
// failing test's message.
func Lines(rs []slog.Record) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		b.WriteByte('\n')
	}
	return b.String()
}
