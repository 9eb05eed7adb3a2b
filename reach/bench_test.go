package reach

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
)

// The reach polling benchmark (docs/BENCHMARKS.md): run with
//
//	CRIER_REACH_BENCH=1000 go test -count=1 ./reach -run 'TestReachPollingBenchmark$' -v
//
// It delivers N posts to four channels (Mastodon, Bluesky, Discord: as many
// requests per read as their readers make; the newsletter: none, its counts
// are in the database) and runs the real engine, with the shipped reach:
// section, until eight days after the last delivery on a simulated clock, a minute at a time: every
// read due is run as its job would be (a snooze puts it back), and the
// requests each network gets are counted per hour. Two patterns: all N
// delivered at once (the worst case) and N spread over a week.

// simReader counts the requests a network would get.
type simReader struct {
	channels.Sender
	perRead int
	now     func() time.Time
	perHour map[time.Time]int
}

func (s *simReader) ReadReach(context.Context, []channels.Part, channels.ReachOptions) (channels.Reach, error) {
	s.perHour[s.now().Truncate(time.Hour)] += s.perRead
	return channels.Reach{Total: counters(1, 2, 3)}, nil
}

func TestReachPollingBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_REACH_BENCH"))
	if n <= 0 {
		t.Skip("set CRIER_REACH_BENCH=1000 to run the reach polling benchmark")
	}
	for _, spread := range []time.Duration{0, 7 * 24 * time.Hour} {
		t.Run(fmt.Sprintf("spread=%s", spread), func(t *testing.T) { simulatePolling(t, n, spread) })
	}
}

// due is one queued read.
type due struct {
	at   time.Time
	args ReadArgs
}

func simulatePolling(t *testing.T, n int, spread time.Duration) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	networks := []struct {
		name    string
		perRead int
	}{{"mastodon", 2}, {"bluesky", 2}, {"discord", 1}, {"email", 0}}
	readers := map[string]*simReader{}
	var chans []channels.Channel
	for _, nw := range networks {
		r := &simReader{perRead: nw.perRead, now: clock, perHour: map[time.Time]int{}}
		readers[nw.name] = r
		chans = append(chans, channels.Channel{Name: nw.name, Sender: r})
	}
	var queue []due
	e, err := Open(ctx, Options{Store: st, Channels: chans, Config: config.DefaultReach(), Now: clock,
		Insert: func(_ context.Context, a ReadArgs, at time.Time) error {
			queue = append(queue, due{at, a})
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries, each scheduled as it is sent.
	deliveries := make([]time.Time, n)
	for i := range n {
		deliveries[i] = t0
		if spread > 0 {
			deliveries[i] = t0.Add(spread * time.Duration(i) / time.Duration(n))
		}
	}
	next := 0
	reads, snoozes := 0, 0
	start := time.Now()
	for end := t0.Add(spread + 8*24*time.Hour); now.Before(end); now = now.Add(time.Minute) {
		for ; next < n && !deliveries[next].After(now); next++ {
			id := fmt.Sprintf("p%04d", next)
			if err := st.SavePost(ctx, post.Post{ID: id, Title: id}, store.PostPublished, now); err != nil {
				t.Fatal(err)
			}
			for _, nw := range networks {
				tx, _ := st.DB().BeginTx(ctx, nil)
				if _, err := store.AddDelivery(ctx, tx, id, nw.name, false, now); err != nil {
					t.Fatal(err)
				}
				tx.Commit()
				if err := st.FinishAttempt(ctx, id, nw.name, store.DeliverySent, channels.Receipt{RemoteID: id}, "", "", false, now); err != nil {
					t.Fatal(err)
				}
				e.Delivered(ctx, id, nw.name)
			}
		}
		slices.SortStableFunc(queue, func(a, b due) int { return a.at.Compare(b.at) })
		var later []due
		for len(queue) > 0 && !queue[0].at.After(now) {
			d := queue[0]
			queue = queue[1:]
			err := e.runStep(ctx, d.args)
			var snooze *river.JobSnoozeError
			switch {
			case errors.As(err, &snooze):
				snoozes++
				later = append(later, due{now.Add(snooze.Duration), d.args})
			case err != nil:
				t.Fatal(err)
			default:
				reads++
			}
		}
		queue = append(queue, later...)
	}
	if len(queue) != 0 {
		t.Errorf("%d reads still queued eight days after the last delivery", len(queue))
	}
	t.Logf("%d posts on 4 channels, delivered over %s; schedule %v; %d reads per channel per hour at most", n, spread, e.opts.Schedule, e.opts.ReadsPerHour)
	t.Logf("%d reads, %d deferred to a later hour by the budget; simulated in %s", reads, snoozes, time.Since(start).Round(time.Second))
	for _, nw := range networks {
		r := readers[nw.name]
		total, peak, hours := 0, 0, 0
		for _, c := range r.perHour {
			total += c
			peak = max(peak, c)
			if c > 0 {
				hours++
			}
		}
		mean := 0.0
		if hours > 0 {
			mean = float64(total) / float64(hours)
		}
		t.Logf("%-8s %d requests per read: %6d requests in all, peak %4d per hour, %6.1f per hour on average over the %d hours with reads", nw.name, nw.perRead, total, peak, mean, hours)
		if peak > e.opts.ReadsPerHour*nw.perRead {
			t.Errorf("%s: %d requests in one hour, over the budget of %d reads", nw.name, peak, e.opts.ReadsPerHour)
		}
	}
}
