package reach

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestReplicasReadEachStepOnce runs two replicas (two job clients, each
// with its engine and its own connection to the network) on one
// PostgreSQL database: both schedule the same delivery, as two replicas
// starting at once would, and both resume it. Each step of the schedule
// is read once in all, not once per replica.
func TestReplicasReadEachStepOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := pgpeer.DSN(t)
	schedule := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
	var fakes []*fakeReader
	var engines []*Engine
	var first *bundle
	for i := range 2 {
		st, err := store.OpenDriver(ctx, "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fake := &fakeReader{reach: channels.Reach{Total: counters(0, 1, 2)}}
		var b *bot.Bot
		e, err := Open(ctx, Options{Store: st, Config: config.Reach{Schedule: schedule},
			Channels: []channels.Channel{{Name: "social", Sender: fake}},
			Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			Insert: func(ctx context.Context, a ReadArgs, at time.Time) error {
				return b.Insert(ctx, a, InsertOpts(at))
			}})
		if err != nil {
			t.Fatal(err)
		}
		b, err = bot.New(ctx, bot.Options{Store: st, Channels: []channels.Channel{{Name: "social", Sender: fake}}, Jobs: []bot.Jobs{e.Jobs()},
			PollInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Schedules: config.Schedules{PublishDue: "@every 1h", MaxLateness: time.Hour},
			Delivery:  config.Delivery{Timeout: 10 * time.Second, MaxAttempts: 3, Workers: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = &bundle{st: st, now: time.Now()}
			first.send(t, "vigil", "social", "101")
		}
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Stop(context.Background()) })
		fakes, engines = append(fakes, fake), append(engines, e)
	}
	for _, e := range engines {
		e.Delivered(ctx, "vigil", "social")
		if err := e.Resume(ctx); err != nil {
			t.Fatal(err)
		}
	}
	calls := func() int {
		n := 0
		for _, f := range fakes {
			f.mu.Lock()
			n += f.calls
			f.mu.Unlock()
		}
		return n
	}
	testnet.WaitFor(t, "the three steps read", 60*time.Second, func() bool {
		s, _, _ := engines[0].status(ctx, "vigil", "social")
		return s.NextStep == len(schedule)
	})
	// A duplicate job, were there one, would be made available by River's
	// scheduler within its 5 s interval: give it that long to show.
	time.Sleep(6 * time.Second)
	if n := calls(); n != len(schedule) {
		t.Fatalf("%d reads across the replicas (%d and %d), want %d: one per step", n, fakes[0].calls, fakes[1].calls, len(schedule))
	}
	hist, err := engines[1].history(ctx, "vigil", "social")
	if err != nil || len(hist) != len(schedule) {
		t.Fatalf("history: %d reads, %v", len(hist), err)
	}
}
