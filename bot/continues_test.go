package bot

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testlog"
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
	logs := testlog.New()
	b.log = slog.New(logs)
	ctx := context.Background()
	p := samplePost("md:x")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "email"}, number: 1, max: 3}); !isSnooze(err) {
		t.Fatalf("want a snooze, got %v", err)
	}
	if rs := logs.Records(slog.LevelWarn, ""); len(rs) != 0 {
		t.Errorf("a hand-over is not a warning:\n%s", testlog.Lines(rs))
	}
	rs := logs.Records(slog.LevelInfo, "delivery continues later")
	if line := testlog.Lines(rs); len(rs) != 1 || rs[0].Level != slog.LevelInfo || !strings.Contains(line, "other replicas are sending the last recipients") || !strings.Contains(line, "in=1s") {
		t.Errorf("want one INFO line saying what happened and when it goes on:\n%s", testlog.Lines(logs.Records(slog.LevelDebug, "")))
	}
}
