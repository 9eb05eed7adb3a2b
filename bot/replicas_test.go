package bot

import (
	"context"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestPostgresReplicasHearNewJobs: two replicas on one PostgreSQL database,
// both fetching jobs only once an hour by polling. A post published on one
// is delivered, once, by one of them: River's listener (LISTEN/NOTIFY on
// the store's pgx pool) told them of the job. Without it the delivery would
// wait for the next poll, an hour away.
func TestPostgresReplicasHearNewJobs(t *testing.T) {
	t.Parallel()
	dsn := pgpeer.DSN(t)
	ctx := context.Background()
	var replicas []*testBundle
	for range 2 {
		h := setup(t, "mastodon")
		h.poll = time.Hour
		st, err := store.OpenDriver(ctx, "postgres", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if st.Pool() == nil {
			t.Fatal("a PostgreSQL store has no pgx pool for River's listener")
		}
		h.store = st
		b := h.bot(Options{})
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Stop(context.WithoutCancel(ctx)) })
		replicas = append(replicas, h)
		if len(replicas) == 1 {
			// The first replica's producers have made their first fetch
			// before anything is published (a fetch at start would find
			// the job without any notification).
			time.Sleep(500 * time.Millisecond)
		}
	}
	time.Sleep(500 * time.Millisecond)
	p := samplePost("md:notified")
	b := replicas[0].bot(Options{}) // publishing needs no running client
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	replicas[1].waitFor("the delivery, fetched on notification", func(c map[store.DeliveryState]int) bool {
		return c[store.DeliverySent] == 1
	})
	got := 0
	for _, h := range replicas {
		got += h.chans[0].count(p.ID)
	}
	if got != 1 {
		t.Errorf("the post was delivered %d times across the replicas, want once", got)
	}
}
