package newsletter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/reach"
)

// The reach-beside-a-send benchmark (docs/BENCHMARKS.md): run with
//
//	CRIER_REACH_SEND_BENCH=20000 go test -count=1 ./newsletter -run 'TestReachBesideSendBenchmark$' -v -timeout 30m
//
// In one process and one SQLite database, with the job client running as
// in the daemon: a send of a new post to the benchmark's N supporters (a
// go-smtp sink that discards), alone; while reach reads back 1,000 posts just delivered to
// four channels (Mastodon, Bluesky, Discord: fakes answering after 20 ms
// per request; the newsletter: its real ReadReach on the database), every
// first read due, at the shipped pace (120 reads per channel per hour);
// and, to show what the pace is for, with no pace at all (its one worker
// reading as fast as it can). Each round runs the three in a rotating
// order (CRIER_REACH_SEND_BENCH_ROUNDS, 3).

// slowNetwork answers a read after perRead requests of 20 ms each.
type slowNetwork struct {
	channels.Sender
	perRead  int
	requests atomic.Int64
}

func (s *slowNetwork) ReadReach(ctx context.Context, _ []channels.Part, _ channels.ReachOptions) (channels.Reach, error) {
	for range s.perRead {
		s.requests.Add(1)
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return channels.Reach{}, ctx.Err()
		}
	}
	return channels.Reach{Total: channels.Counters{Likes: channels.CountOf(3)}}, nil
}

type sendRun struct {
	perSec, cpuPer1000 float64
	reads, requests    int64
}

func TestReachBesideSendBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_REACH_SEND_BENCH"))
	if n <= 0 {
		t.Skip("set CRIER_REACH_SEND_BENCH=20000 to run the reach-beside-a-send benchmark")
	}
	rounds := 3
	if r, _ := strconv.Atoi(os.Getenv("CRIER_REACH_SEND_BENCH_ROUNDS")); r > 0 {
		rounds = r
	}
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	fillSubscribers(t, dbPath, n)
	sk := startSink(t, false)
	s, st := childSender(t, dbPath, sk.addr.Port, benchConcurrency)
	warm := sendOnce(t, s, st, "warm-up")
	t.Logf("warm-up send %s: %.0f messages/s", warm.id, warm.perSec)
	modes := []string{"alone", "shipped pace", "no pace"}
	runs := map[string][]sendRun{}
	for r := range rounds {
		for k := range modes {
			mode := modes[(k+r)%len(modes)]
			tag := fmt.Sprintf("%d-%d", r, k)
			var res sendRun
			switch mode {
			case "alone":
				res = besideReach(t, s, st, tag, warm.id, 0)
			case "shipped pace":
				res = besideReach(t, s, st, tag, warm.id, config.DefaultReach().ReadsPerHour)
			default:
				res = besideReach(t, s, st, tag, warm.id, 1<<30)
			}
			runs[mode] = append(runs[mode], res)
			t.Logf("round %d %-12s %6.0f messages/s, %.3f CPU s per 1,000; %d reads (%d network requests) during the send", r, mode+":", res.perSec, res.cpuPer1000, res.reads, res.requests)
		}
	}
	med := func(runs []sendRun, f func(sendRun) float64) float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	rate := func(r sendRun) float64 { return r.perSec }
	cpu := func(r sendRun) float64 { return r.cpuPer1000 }
	base := med(runs["alone"], rate)
	for _, mode := range modes {
		t.Logf("median of %d rounds, %d recipients, %-12s %6.0f messages/s (%+.1f%%), %.3f CPU s per 1,000 messages",
			rounds, benchRecipients(n), mode+":", med(runs[mode], rate), 100*(med(runs[mode], rate)/base-1), med(runs[mode], cpu))
	}
}

type sendResult struct {
	sendRun
	id string
}

// sendOnce sends a new post to every selected supporter and measures it.
func sendOnce(t *testing.T, s *Sender, st *store.Store, tag string) sendResult {
	ctx := context.Background()
	id, msg := benchPost("reach-" + tag)
	m, err := msg(s)
	if err != nil {
		t.Fatal(err)
	}
	payload := channels.Payload{Channel: "email", PostID: id, Body: m}
	cpu0, start := cpuSeconds(), time.Now()
	if _, err := s.Send(ctx, channels.Delivery{PostID: id, Channel: "email", Attempt: 1}, payload); err != nil {
		t.Fatal(err)
	}
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	sent := countSent(t, st.DB(), m.SendID)
	return sendResult{sendRun{perSec: float64(sent) / secs, cpuPer1000: cpu / float64(sent) * 1000}, m.SendID}
}

// besideReach starts the job client with reach's worker, as the daemon
// runs it (the send is a job of the same client there), seeds 1,000 posts
// delivered to four channels two hours ago (every first read due) unless
// perHour is 0 (the send alone), and sends while it reads.
func besideReach(t *testing.T, s *Sender, st *store.Store, tag, sendID string, perHour int) sendRun {
	ctx := context.Background()
	then := time.Now().Add(-2 * time.Hour)
	nets := map[string]*slowNetwork{"mastodon": {perRead: 2}, "bluesky": {perRead: 2}, "discord": {perRead: 1}}
	chans := []channels.Channel{{Name: "email", Sender: s}}
	for name, nw := range nets {
		chans = append(chans, channels.Channel{Name: name, Sender: nw})
	}
	for i := range 1000 {
		if perHour == 0 {
			break
		}
		id := fmt.Sprintf("reach-%s-%04d", tag, i)
		if err := st.SavePost(ctx, post.Post{ID: id, Title: id}, store.PostPublished, then); err != nil {
			t.Fatal(err)
		}
		for _, ch := range chans {
			tx, err := st.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.AddDelivery(ctx, tx, id, ch.Name, false, then); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			remote := id
			if ch.Name == "email" {
				remote = sendID // an existing send: its counts are really read
			}
			if err := st.FinishAttempt(ctx, id, ch.Name, store.DeliverySent, channels.Receipt{RemoteID: remote}, "", "", false, then); err != nil {
				t.Fatal(err)
			}
		}
	}
	// What an earlier round left (queued reads, reservations) goes: each
	// round starts with the same 4,000 reads due.
	for _, q := range []string{`DELETE FROM river_job WHERE kind = 'crier.reach_read'`, `DELETE FROM reach_budget`, `DELETE FROM reach_status`} {
		if _, err := st.DB().Exec(q); err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var b *bot.Bot
	e, err := reach.Open(ctx, reach.Options{Store: st, Channels: chans, Logger: quiet,
		Config: config.Reach{ReadsPerHour: max(perHour, 1)}, Metrics: reach.NewMetrics(nil),
		Insert: func(ctx context.Context, a reach.ReadArgs, at time.Time) error {
			return b.Insert(ctx, a, reach.InsertOpts(at))
		}})
	if err != nil {
		t.Fatal(err)
	}
	b, err = bot.New(ctx, bot.Options{Store: st, Logger: quiet, Jobs: []bot.Jobs{e.Jobs()},
		Schedules: config.Schedules{PublishDue: "@every 1h", MaxLateness: time.Hour},
		Delivery:  config.Delivery{Timeout: time.Minute, MaxAttempts: 3, Workers: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(context.Background())
	for i := range 1000 {
		if perHour == 0 {
			break
		}
		for _, ch := range chans {
			if err := e.DeliveredAt(ctx, fmt.Sprintf("reach-%s-%04d", tag, i), ch.Name, then); err != nil {
				t.Fatal(err)
			}
		}
	}
	requests := func() int64 {
		var r int64
		for _, nw := range nets {
			r += nw.requests.Load()
		}
		return r
	}
	reads := func() int64 {
		var c int64
		if err := st.DB().QueryRow(`SELECT COUNT(*) FROM reach_reads WHERE post_id LIKE $1`, "reach-"+tag+"-%").Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	// The send starts once reads are under way (River's scheduler makes
	// the due reads available within its interval).
	for deadline := time.Now().Add(time.Minute); perHour > 0 && reads() == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	r0, q0 := reads(), requests()
	if r0 == 0 && perHour > 0 {
		t.Fatal("no read started within a minute")
	}
	res := sendOnce(t, s, st, tag)
	res.reads, res.requests = reads()-r0, requests()-q0
	return res.sendRun
}
