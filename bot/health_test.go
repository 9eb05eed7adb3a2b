package bot

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	h := setup(t)
	b := h.bot(Options{})
	ctx := context.Background()
	b.started = h.clock.Now()
	if err := b.Health(ctx); err != nil {
		t.Fatalf("fresh daemon unhealthy: %v", err)
	}
	// The scheduler ticks every minute: three minutes of silence is an outage.
	h.clock.Set(h.clock.Now().Add(3*time.Minute + time.Second))
	if err := b.Health(ctx); err == nil || !strings.Contains(err.Error(), "scheduler has not ticked") {
		t.Fatalf("want a scheduler error, got %v", err)
	}
	// A tick makes it healthy again.
	if err := b.runScheduled(ctx, publishDueName, true, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := b.Health(ctx); err != nil {
		t.Fatalf("after a tick: %v", err)
	}
	h.store.Close()
	if err := b.Health(ctx); err == nil || !strings.Contains(err.Error(), "store unreachable") {
		t.Fatalf("want a store error, got %v", err)
	}
}

func TestPanicInScheduledJobIsRecovered(t *testing.T) {
	t.Parallel()
	h := setup(t)
	b := h.bot(Options{})
	err := b.runScheduled(context.Background(), "feed:x", true, func(context.Context) error { panic("nil map") })
	if err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("want the panic as an error, got %v", err)
	}
}
