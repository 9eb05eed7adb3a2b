package web

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestLimitsHoldAcrossReplicas: two replicas (two connections pools on one
// database) share one bucket per client and one cap, also when their
// requests race.
func TestLimitsHoldAcrossReplicas(t *testing.T) { pgpeer.EachDriver(t, testLimitsAcrossReplicas) }

func testLimitsAcrossReplicas(t *testing.T, driver string) {
	ctx := context.Background()
	target := pgpeer.Target(t, driver)
	var replicas []*store.Store
	for range 2 {
		st, err := store.OpenDriver(ctx, driver, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if err := PrepareShared(ctx, st.DB()); err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, st)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	log := slog.New(slog.DiscardHandler)
	rate := RateLimit{Burst: 5, Every: time.Minute}
	a := newDBLimiter(replicas[0].DB(), "subscribe", rate, clock, log)
	b := newDBLimiter(replicas[1].DB(), "subscribe", rate, clock, log)

	// 20 requests from one client, racing over both replicas: 5 pass.
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			if ok, _ := l.allow("192.0.2.1"); ok {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 5 {
		t.Fatalf("%d of 20 racing requests passed a burst of 5 over two replicas", passed.Load())
	}
	if ok, wait := b.allow("192.0.2.1"); ok || wait != time.Minute {
		t.Fatalf("the other replica let the client through: %v, wait %v", ok, wait)
	}
	if wait, blocked, err := a.exhausted("192.0.2.1"); err != nil || !blocked || wait != time.Minute {
		t.Fatalf("exhausted: %v %v", wait, blocked)
	}
	if ok, _ := a.allow("198.51.100.7"); !ok {
		t.Fatal("another client shares the first one's bucket")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if ok, _ := b.allow("192.0.2.1"); !ok {
		t.Fatal("a token refilled after a minute is not there")
	}

	// The confirmation-mail cap: 3 an hour over both replicas.
	ca := newDBWindow(replicas[0].DB(), "confirmation-mails", 3, time.Hour, clock, log)
	cb := newDBWindow(replicas[1].DB(), "confirmation-mails", 3, time.Hour, clock, log)
	var taken atomic.Int32
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := capCounter(ca)
			if i%2 == 1 {
				c = cb
			}
			if c.take() {
				taken.Add(1)
			}
		}()
	}
	wg.Wait()
	if taken.Load() != 3 {
		t.Fatalf("%d of 10 racing mails passed a cap of 3 over two replicas", taken.Load())
	}
	cb.giveBack()
	if !ca.take() || ca.take() {
		t.Fatal("a given-back mail must free exactly one place, on every replica")
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if !cb.take() {
		t.Fatal("the cap did not free up after an hour")
	}
}
