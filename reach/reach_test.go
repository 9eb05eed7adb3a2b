package reach

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// fakeReader answers ReadReach with what the test sets, counting calls.
type fakeReader struct {
	channels.Sender
	mu    sync.Mutex
	calls int
	reach channels.Reach
	err   error
	parts [][]channels.Part
	// during, when set, runs inside each read, as the network answers.
	during func()
}

func (f *fakeReader) ReadReach(_ context.Context, parts []channels.Part, _ channels.ReachOptions) (channels.Reach, error) {
	if f.during != nil {
		f.during()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.parts = append(f.parts, parts)
	return f.reach, f.err
}

func (f *fakeReader) set(r channels.Reach, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reach, f.err = r, err
}

// bundle is one test's engine over its own database, a fake channel
// "social" and a clock the test moves.
type bundle struct {
	st     *store.Store
	e      *Engine
	fake   *fakeReader
	now    time.Time
	mu     sync.Mutex
	queued []ReadArgs
	at     []time.Time
}

func setup(t *testing.T, driver, target string, cfg config.Reach) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &bundle{st: st, fake: &fakeReader{}, now: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	b.e, err = Open(ctx, Options{Store: st, Config: cfg,
		Channels: []channels.Channel{{Name: "social", Sender: b.fake}, {Name: "local", Sender: b.fake, Outbox: true}},
		Types:    map[string]string{"social": "mastodon"},
		Now:      func() time.Time { b.mu.Lock(); defer b.mu.Unlock(); return b.now },
		Insert: func(_ context.Context, a ReadArgs, at time.Time) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			b.queued, b.at = append(b.queued, a), append(b.at, at)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) advance(d time.Duration) { b.mu.Lock(); b.now = b.now.Add(d); b.mu.Unlock() }

// send records postID as sent to channel now, with one part per id.
func (b *bundle) send(t *testing.T, postID, channel string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	p := post.Post{ID: postID, Title: "Vigil " + postID, Tags: []string{"vigil"}, Source: post.Source{Kind: "markdown", Name: "posts", Ref: postID + ".md"}}
	if err := b.st.SavePost(ctx, p, store.PostPublished, b.now); err != nil {
		t.Fatal(err)
	}
	tx, err := b.st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AddDelivery(ctx, tx, postID, channel, false, b.now); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	l := b.st.Ledger(postID, channel, func() time.Time { return b.now })
	for i, id := range ids {
		if err := l.SavePart(ctx, channels.Part{Index: i, RemoteID: id, RemoteURL: "https://social.example/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.st.FinishAttempt(ctx, postID, channel, store.DeliverySent, channels.Receipt{RemoteID: ids[0]}, "", "", false, b.now); err != nil {
		t.Fatal(err)
	}
}

func counters(replies, reposts, likes int64) channels.Counters {
	return channels.Counters{Replies: channels.CountOf(replies), Reposts: channels.CountOf(reposts), Likes: channels.CountOf(likes)}
}

func TestScheduleReadsEachStepOnceAndKeepsTheLastGoodRead(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, testSchedule)
}

func testSchedule(t *testing.T, driver, target string) {
	ctx := context.Background()
	b := setup(t, driver, target, config.Reach{Schedule: []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour}})
	b.send(t, "vigil", "social", "101", "102")
	b.e.Delivered(ctx, "vigil", "social")
	b.e.Delivered(ctx, "vigil", "local") // outbox: nothing to read back
	if len(b.queued) != 1 || b.queued[0] != (ReadArgs{PostID: "vigil", Channel: "social", Step: 0}) || !b.at[0].Equal(b.now.Add(time.Hour)) {
		t.Fatalf("queued %v at %v, want step 0 of social an hour after the delivery", b.queued, b.at)
	}
	reply := channels.Reply{Author: "@ana@social.example", At: b.now.Add(30 * time.Minute), Excerpt: "See you there", URL: "https://social.example/@ana/1"}
	b.fake.set(channels.Reach{Total: counters(1, 2, 3), Replies: []channels.Reply{reply}}, nil)
	b.advance(time.Hour)
	if err := b.e.runStep(ctx, b.queued[0]); err != nil {
		t.Fatal(err)
	}
	// The same step again (a second replica's copy): no second read.
	if err := b.e.runStep(ctx, b.queued[0]); err != nil {
		t.Fatal(err)
	}
	if b.fake.calls != 1 || len(b.fake.parts[0]) != 2 {
		t.Fatalf("%d reads with parts %v, want one read of both parts", b.fake.calls, b.fake.parts)
	}
	if len(b.queued) != 2 || b.queued[1].Step != 1 || !b.at[1].Equal(b.now.Add(5*time.Hour)) {
		t.Fatalf("queued %v at %v, want step 1 six hours after the delivery", b.queued, b.at)
	}
	// A failed read keeps the last good one and says when it was.
	good := b.now
	b.fake.set(channels.Reach{}, channels.Temporary(errors.New("502 from the server")))
	b.advance(5 * time.Hour)
	if err := b.e.runStep(ctx, b.queued[1]); err != nil {
		t.Fatal(err)
	}
	got, err := b.e.Post(ctx, "vigil")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("reach of %d channels, want 1 (the outbox is not read): %+v", len(got), got)
	}
	cr := got[0]
	if cr.Latest != counters(1, 2, 3) || !cr.LastRead.Equal(good) || !strings.Contains(cr.LastError, "502") || cr.Type != "mastodon" {
		t.Fatalf("after a failed read: %+v; want the last good counters, read at %v, and the error", cr, good)
	}
	if cr.Latest.Quotes.Known || cr.Latest.Quotes.String() != "not available" {
		t.Fatalf("quotes = %v, want not available", cr.Latest.Quotes)
	}
	if len(cr.History) != 1 || len(cr.Replies) != 1 || cr.Replies[0] != reply {
		t.Fatalf("history %+v replies %+v, want one read and the reply", cr.History, cr.Replies)
	}
	if !cr.NextRead.Equal(b.now.Add(18 * time.Hour)) {
		t.Fatalf("next read %v, want the last step", cr.NextRead)
	}
	// The last step reads, and then the schedule stops.
	b.fake.set(channels.Reach{Total: counters(2, 2, 5)}, nil)
	b.advance(18 * time.Hour)
	if err := b.e.runStep(ctx, b.queued[2]); err != nil {
		t.Fatal(err)
	}
	if len(b.queued) != 3 {
		t.Fatalf("queued %v after the last step, want nothing more", b.queued)
	}
	got, _ = b.e.Post(ctx, "vigil")
	if got[0].LastError != "" || got[0].Latest != counters(2, 2, 5) || !got[0].NextRead.IsZero() || len(got[0].History) != 2 {
		t.Fatalf("after the last step: %+v", got[0])
	}
	period, err := b.e.Period(ctx, b.now.Add(-48*time.Hour), b.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(period) != 1 || period[0].Title != "Vigil vigil" || period[0].Channels[0].Latest.Likes.N != 5 || period[0].Tags[0] != "vigil" {
		t.Fatalf("period %+v", period)
	}
}

func TestRateLimitedReadSnoozesAndReadsArePaced(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		b := setup(t, driver, target, config.Reach{ReadsPerHour: 2})
		for _, id := range []string{"a", "b", "c", "d"} {
			b.send(t, id, "social", id+"1")
			b.e.Delivered(ctx, id, "social")
		}
		// Two reads an hour: four reads due at 11:00 are queued for
		// 11:00, 11:30, 12:00 and 12:30.
		h := b.now.Add(time.Hour)
		for i, want := range []time.Time{h, h.Add(30 * time.Minute), h.Add(time.Hour), h.Add(90 * time.Minute)} {
			if !b.at[i].Equal(want) {
				t.Fatalf("read %d queued for %v, want %v (all: %v)", i, b.at[i], want, b.at)
			}
		}
		b.advance(time.Hour)
		b.fake.set(channels.Reach{}, channels.RateLimited(errors.New("429"), 7*time.Minute))
		var snooze *river.JobSnoozeError
		// Rate-limited: the read takes the first free time after the
		// wait the network asked for (11:00 and 12:00 are full: 13:00).
		if err := b.e.runStep(ctx, b.queued[0]); !errors.As(err, &snooze) || snooze.Duration != 2*time.Hour {
			t.Fatalf("rate-limited read returned %v, want a wait until 13:00", err)
		}
		if got, _ := b.e.Post(ctx, "a"); !strings.Contains(got[0].LastError, "429") || !got[0].NextRead.Equal(h.Add(2*time.Hour)) {
			t.Fatalf("after the 429: %+v", got[0])
		}
		b.advance(30 * time.Minute)
		b.fake.set(channels.Reach{Total: counters(0, 0, 1)}, nil)
		if err := b.e.runStep(ctx, b.queued[1]); err != nil || b.fake.calls != 2 {
			t.Fatalf("read in its time: %v after %d calls", err, b.fake.calls)
		}
		if err := b.e.runStep(ctx, b.queued[2]); !errors.As(err, &snooze) || snooze.Duration != 30*time.Minute || b.fake.calls != 2 {
			t.Fatalf("read woken before its time: %v after %d calls, want it to sleep on", err, b.fake.calls)
		}
		b.advance(30 * time.Minute)
		if err := b.e.runStep(ctx, b.queued[2]); err != nil || b.fake.calls != 3 {
			t.Fatalf("read in its time: %v after %d calls", err, b.fake.calls)
		}
		got, _ := b.e.Post(ctx, "b")
		if got[0].LastError != "" || got[0].Latest.Likes.N != 1 {
			t.Fatalf("after its read: %+v", got[0])
		}
	})
}

func TestRepliesAreDeletedAfterKeepReplies(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		b := setup(t, driver, target, config.Reach{KeepReplies: 48 * time.Hour})
		b.send(t, "vigil", "social", "1")
		b.fake.set(channels.Reach{Total: counters(1, 0, 0), Replies: []channels.Reply{{Author: "@a@x", At: b.now, Excerpt: "hi", URL: "https://x/1"}}}, nil)
		if err := b.e.Refresh(ctx, "vigil"); err != nil {
			t.Fatal(err)
		}
		b.advance(47 * time.Hour)
		if got, _ := b.e.Post(ctx, "vigil"); len(got[0].Replies) != 1 {
			t.Fatalf("replies after 47h: %+v", got[0].Replies)
		}
		b.advance(2 * time.Hour)
		if got, _ := b.e.Post(ctx, "vigil"); len(got[0].Replies) != 0 {
			t.Fatalf("replies after 49h are still shown: %+v", got[0].Replies)
		}
		if n, err := b.e.PurgeReplies(ctx); err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
	})
}

// TestOverdueReadsAreSpreadFromNow: reads whose time passed while the
// daemon was down are given times from now on, spaced by the budget,
// not all at once; a read due in the middle of an hour is never queued
// before it is due.
func TestOverdueReadsAreSpreadFromNow(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		b := setup(t, driver, target, config.Reach{ReadsPerHour: 4})
		sent := b.now
		for _, id := range []string{"a", "b", "c"} {
			b.send(t, id, "social", id+"1")
		}
		b.advance(3*time.Hour + 20*time.Minute) // 13:20, the first reads were due at 11:00
		for _, id := range []string{"a", "b", "c"} {
			if err := b.e.DeliveredAt(ctx, id, "social", sent); err != nil {
				t.Fatal(err)
			}
		}
		// 13:20 is the hour's second quarter: 13:30, 13:45, then 14:00.
		h := sent.Add(3 * time.Hour)
		for i, want := range []time.Time{h.Add(30 * time.Minute), h.Add(45 * time.Minute), h.Add(time.Hour)} {
			if !b.at[i].Equal(want) {
				t.Errorf("overdue read %d queued for %v, want %v", i, b.at[i].Format("15:04"), want.Format("15:04"))
			}
		}
	})
}

// TestRefreshKeepsToThePauseAndTheBudget: a refresh is a read like the
// scheduled ones: refused while the network asked to wait (a 429 of a
// refresh pauses too), and counted in the channel's hourly budget,
// refused when the hour is used, each refusal saying until when.
func TestRefreshKeepsToThePauseAndTheBudget(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		b := setup(t, driver, target, config.Reach{ReadsPerHour: 2})
		b.send(t, "vigil", "social", "1")
		b.fake.set(channels.Reach{}, channels.RateLimited(errors.New("429 too many requests"), 7*time.Minute))
		if err := b.e.Refresh(ctx, "vigil"); err == nil || !strings.Contains(err.Error(), "429") {
			t.Fatalf("a refresh answered 429: %v", err)
		}
		b.fake.set(channels.Reach{Total: counters(0, 0, 4)}, nil)
		b.advance(5 * time.Minute)
		err := b.e.Refresh(ctx, "vigil")
		if err == nil || !strings.Contains(err.Error(), "Mastodon asked Crier to wait until 10:07 UTC") || b.fake.calls != 1 {
			t.Fatalf("a refresh during the wait: %v after %d reads; want a refusal saying until 10:07 and no read", err, b.fake.calls)
		}
		// After the wait: the hour's second read (the 429 was its first).
		b.advance(3 * time.Minute)
		if err := b.e.Refresh(ctx, "vigil"); err != nil || b.fake.calls != 2 {
			t.Fatalf("a refresh after the wait: %v after %d reads", err, b.fake.calls)
		}
		err = b.e.Refresh(ctx, "vigil")
		if err == nil || !strings.Contains(err.Error(), "reads of Mastodon are used") || !strings.Contains(err.Error(), "after 11:00 UTC") || b.fake.calls != 2 {
			t.Fatalf("a third refresh in an hour of two reads: %v after %d reads; want a refusal until 11:00", err, b.fake.calls)
		}
		b.advance(time.Hour)
		if err := b.e.Refresh(ctx, "vigil"); err != nil || b.fake.calls != 3 {
			t.Fatalf("a refresh in the next hour: %v after %d reads", err, b.fake.calls)
		}
		if got, _ := b.e.Post(ctx, "vigil"); got[0].Latest.Likes.N != 4 {
			t.Fatalf("after the refreshes: %+v", got[0])
		}
	})
}

// TestRefreshLeavesTheScheduleAlone: a scheduled step that finishes while
// a refresh waits for the network is not undone by the refresh's save.
func TestRefreshLeavesTheScheduleAlone(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, func(t *testing.T, driver, target string) {
		ctx := context.Background()
		b := setup(t, driver, target, config.Reach{Schedule: []time.Duration{time.Hour, 6 * time.Hour}})
		b.send(t, "vigil", "social", "1")
		b.e.Delivered(ctx, "vigil", "social")
		b.advance(time.Hour)
		stepDone := b.now.Add(5 * time.Hour)
		for _, fail := range []error{nil, channels.Temporary(errors.New("502"))} {
			b.fake.set(channels.Reach{Total: counters(1, 0, 0)}, fail)
			// Another replica reads step 0 meanwhile: step 1 is next.
			b.fake.during = func() {
				if _, err := b.st.DB().Exec(`UPDATE reach_status SET next_step = 1, next_at = $1 WHERE post_id = 'vigil'`, stepDone); err != nil {
					t.Error(err)
				}
			}
			_ = b.e.Refresh(ctx, "vigil")
			got, err := b.e.Post(ctx, "vigil")
			if err != nil || !got[0].NextRead.Equal(stepDone) {
				t.Fatalf("refresh (read error %v): next read %v, %v; want step 1's %v, as the other read left it", fail, got[0].NextRead, err, stepDone)
			}
			b.fake.during = nil
			if _, err := b.st.DB().Exec(`UPDATE reach_status SET next_step = 0, next_at = $1 WHERE post_id = 'vigil'`, b.now); err != nil {
				t.Fatal(err)
			}
		}
	})
}
