package bot

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// TestRateLimitedIsNotAFailure: a channel that asks to go on later (here
// the newsletter's owner replica handing the last recipients to the
// others) is logged at INFO with what happened and when it goes on, not as
// a WARN "delivery attempt failed ... rate-limited".
func TestRateLimitedIsNotAFailure(t *testing.T) {
	t.Parallel()
	h := setup(t, "email")
	why := "newsletter post:md:x: 38 of 40 sent so far, 2 to go; other replicas are sending the last recipients"
	h.chans[0].fail = func(channels.Delivery) error { return channels.RateLimited(errors.New(why), time.Second) }
	b := h.bot(Options{})
	var out syncBuffer
	b.log = slog.New(slog.NewTextHandler(&out, nil))
	ctx := context.Background()
	p := samplePost("md:x")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "email"}, number: 1, max: 3}); !isSnooze(err) {
		t.Fatalf("want a snooze, got %v", err)
	}
	log := out.String()
	if strings.Contains(log, "level=WARN") || strings.Contains(log, "level=ERROR") {
		t.Errorf("a hand-over is not a warning:\n%s", log)
	}
	if !strings.Contains(log, "level=INFO msg=\"delivery continues later\"") || !strings.Contains(log, "other replicas are sending the last recipients") || !strings.Contains(log, "in=1s") {
		t.Errorf("want one INFO line saying what happened and when it goes on:\n%s", log)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
