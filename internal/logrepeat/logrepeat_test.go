package logrepeat

import (
	"bytes"
	"errors"
	"github.com/crierhq/crier/internal/testnet"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *buffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSpace(b.b.String()), "\n")
}

// TestRepeatsCollapse: an error repeated a hundred times (River's fetch
// during a database outage) is one line when it starts and one summary
// when it stops; other messages and INFO pass as they are, and the same
// error after the summary is a new outage, logged again.
func TestRepeatsCollapse(t *testing.T) {
	t.Parallel()
	var out buffer
	log := slog.New(New(slog.NewTextHandler(&out, nil), 100*time.Millisecond)).With("component", "river")
	for i := range 100 {
		log.With("producer", i%3).Error("producer: Error fetching jobs", "err", errors.New("dial tcp 127.0.0.1:5432: connect: connection refused"))
		if i == 50 {
			log.Warn("elector: error attempting to elect", "err", "connection refused")
			log.Info("an info line")
		}
	}
	if got := out.lines(); len(got) != 3 {
		t.Fatalf("during the repeats want 3 lines (the error once, the other warning, the info), got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	testnet.Poll(5*time.Second, func() bool { return len(out.lines()) >= 4 })
	got := out.lines()
	if len(got) != 4 || !strings.Contains(got[3], `msg="stopped repeating: producer: Error fetching jobs"`) || !strings.Contains(got[3], "repeats=99") ||
		!strings.Contains(got[3], "level=INFO") || !strings.Contains(got[3], "last_err=") || !strings.Contains(got[3], "component=river") {
		t.Fatalf("want one summary when the repeats stop:\n%s", strings.Join(got, "\n"))
	}
	log.Error("producer: Error fetching jobs", "err", "again")
	if got := out.lines(); len(got) != 5 || !strings.Contains(got[4], "err=again") {
		t.Fatalf("a new outage is logged again:\n%s", strings.Join(got, "\n"))
	}
}
