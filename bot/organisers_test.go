package bot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
)

func TestSameStoryFromTwoSourcesIsPublishedOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	dir := t.TempDir()
	// The organiser's Markdown post, due now, links the website article...
	os.WriteFile(filepath.Join(dir, "vigil.md"), []byte("---\ntitle: Vigil on Saturday\nlink: https://camaca.example/news/vigil-on-saturday/\n---\nJoin us.\n"), 0o644)
	srv := &feedServer{}
	srv.set(rss(rssItem{"vigil", "Vigil on Saturday", "Join us at the town hall.", "Fri, 27 Nov 2026 08:00:00 GMT"}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	url := ts.URL
	b := h.bot(Options{MarkdownDir: dir, Fetcher: &feed.Fetcher{Client: ts.Client()}})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	// ...and the website's feed then carries the same article.
	f := config.Feed{Name: "site", URL: url, PublishNewest: 1}
	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	recent, err := h.store.RecentPosts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	states := map[store.PostState][]store.StoredPost{}
	for _, sp := range recent {
		states[sp.State] = append(states[sp.State], sp)
	}
	if len(states[store.PostPublished]) != 1 || states[store.PostPublished][0].Post.ID != "md:vigil" {
		t.Fatalf("want only the Markdown post published, got %+v", states)
	}
	dups := states[store.PostDuplicate]
	if len(dups) != 1 || !strings.HasPrefix(dups[0].Post.ID, "feed:site:") || dups[0].DuplicateOf != "md:vigil" {
		t.Fatalf("the feed item must be recorded as a duplicate of md:vigil: %+v", dups)
	}
	ds, _ := h.store.Deliveries(ctx, dups[0].Post.ID)
	if len(ds) != 0 {
		t.Fatalf("a duplicate must not be delivered: %+v", ds)
	}
	// Polling again changes nothing.
	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.store.CountDeliveries(ctx); c[store.DeliveryPending] != 1 {
		t.Fatalf("one delivery in all: %v", c)
	}
}

func TestPublishFromOutsideTheFolderIsNotWithdrawn(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	postsDir, elsewhere := t.TempDir(), t.TempDir()
	file := filepath.Join(elsewhere, "outside.md")
	os.WriteFile(file, []byte("---\ntitle: Press release\n---\nFrom the office.\n"), 0o644)
	b := h.bot(Options{MarkdownDir: postsDir})
	ctx := context.Background()
	p, err := markdown.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PublishTo(ctx, p, []string{"mastodon"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(h.clock.Now().Add(time.Hour))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := h.store.Post(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sp.State != store.PostPublished {
		t.Errorf("a post queued by crier publish from another folder is published, got %s", sp.State)
	}
	if sp.Post.PublishAt.IsZero() {
		t.Error("the post must carry the date it was queued, not the zero date")
	}
}

func TestUnreadablePostIsReportedOncePerChange(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	dir := t.TempDir()
	file := filepath.Join(dir, "broken.md")
	os.WriteFile(file, []byte("---\ntitle: [Broken\n---\n"), 0o644)
	var logs bytes.Buffer
	b := h.bot(Options{MarkdownDir: dir})
	b.log = slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	for range 3 {
		if err := b.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Fatalf("want one ERROR for three scans of the same broken file, got %d:\n%s", n, logs.String())
	}
	probs, _ := h.store.PostProblems(ctx)
	if len(probs) != 1 || probs[0].File != file || !strings.Contains(probs[0].Problem, "broken.md:2") {
		t.Fatalf("the problem must be recorded for status: %+v", probs)
	}
	// A different mistake is a change: reported again.
	os.WriteFile(file, []byte("---\ntitel: Fixed\n---\n"), 0o644)
	b.PublishDue(ctx)
	b.PublishDue(ctx)
	if n := strings.Count(logs.String(), "level=ERROR"); n != 2 {
		t.Fatalf("a new mistake is reported once more, got %d errors:\n%s", n, logs.String())
	}
	// Fixed: said once, and the record is gone.
	os.WriteFile(file, []byte("---\ntitle: Fixed\ndraft: true\n---\n"), 0o644)
	b.PublishDue(ctx)
	if probs, _ := h.store.PostProblems(ctx); len(probs) != 0 {
		t.Fatalf("a fixed file must leave the problem list: %+v", probs)
	}
	if !strings.Contains(logs.String(), "fixed or gone") {
		t.Errorf("the fix is logged:\n%s", logs.String())
	}
}

func TestRetryQueuesAFailedDeliveryAgain(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	broken := true
	h.chans[0].fail = func(channels.Delivery) error {
		if broken {
			return channels.Permanent(errors.New("401 token revoked"))
		}
		return nil
	}
	b := h.bot(Options{})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:retry")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.waitFor("one failed, one sent", func(c map[store.DeliveryState]int) bool {
		return c[store.DeliveryFailed] == 1 && c[store.DeliverySent] == 1
	})
	// River records a job's end a moment after the ledger does.
	testnet.Poll(10*time.Second, func() bool { return countRunning(t, h) == 0 })
	h.chans[0].mu.Lock()
	broken = false // the organiser fixed the token
	h.chans[0].mu.Unlock()
	queued, err := b.Retry(ctx, p.ID, []string{"mastodon"})
	if err != nil || len(queued) != 1 || queued[0] != "mastodon" {
		t.Fatalf("retry: %v %v", queued, err)
	}
	h.waitFor("both sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 2 })
	if n := h.chans[1].count(p.ID); n != 1 {
		t.Errorf("discord got %d copies; a retry must not touch a sent delivery", n)
	}
	if queued, err := b.Retry(ctx, p.ID, nil); err != nil || len(queued) != 0 {
		t.Errorf("nothing left to retry: %v %v", queued, err)
	}
}

func countRunning(t *testing.T, h *testBundle) int {
	t.Helper()
	var n int
	if err := h.store.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'running'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKilledDeliveryResumesWithinTheBound kills a process the way kill -9
// does (as the database sees it: its job left running, its leadership
// lease still held) right after an attempt started, restarts at once, and
// checks the delivery's next attempt starts within ResumeBound computed
// from the config. It takes up to that bound (about 40 s) of real time.
func TestKilledDeliveryResumesWithinTheBound(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	ctx := context.Background()
	delivery := config.Delivery{Timeout: time.Second, MaxAttempts: 3, Workers: 1}
	b := h.bot(Options{Delivery: delivery})
	p := samplePost("md:killed-bound")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	if _, err := h.store.DB().Exec(`UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), attempted_by = '["dead-process"]'`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.DB().Exec(`INSERT INTO river_leader (elected_at, expires_at, leader_id)
		VALUES (datetime('now', 'subsec'), datetime('now', 'subsec', '+15 seconds'), 'dead-process')`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.StartAttempt(ctx, p.ID, "mastodon", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	// The restarted daemon, with the shipped retry policy (no test backoff).
	opts := Options{Store: h.store, Delivery: delivery, Now: h.clock.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Schedules: config.Schedules{PublishDue: "@every 1m", MaxLateness: time.Hour}, PollInterval: time.Second}
	opts.Channels = append(opts.Channels, h.chans[0].channel())
	b2, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b2.Stop(ctx)
	bound := ResumeBound(RescueAfter(delivery), time.Second)
	deadline := killedAt.Add(bound + 5*time.Second) // the test's own slack, only to report a miss
	if !testnet.Poll(time.Until(deadline), func() bool {
		d, _ := h.store.Delivery(ctx, p.ID, "mastodon")
		return d.State == store.DeliverySent
	}) {
		t.Fatalf("not resumed %s after the kill (bound %s)", time.Since(killedAt).Round(time.Second), bound)
	}
	took := time.Since(killedAt)
	t.Logf("resumed and sent %s after the kill; bound from config %s", took.Round(100*time.Millisecond), bound)
	// The bound covers the start of the attempt; this fake sends at once.
	if took > bound+time.Second {
		t.Errorf("resumed after %s, beyond the documented bound %s", took, bound)
	}
	if n := h.chans[0].count(p.ID); n != 1 || h.chans[0].checks != 1 {
		t.Errorf("%d copies, %d remote checks; want 1 and 1", n, h.chans[0].checks)
	}
}

func TestAnExampleNeverHoldsBackARealPost(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	b := h.bot(Options{})
	ctx := context.Background()
	ex := samplePost("md:sample")
	ex.Example = true
	if _, err := b.Publish(ctx, ex); err != nil {
		t.Fatal(err)
	}
	real := samplePost("md:real")
	real.Link = ex.Link
	if _, err := b.Publish(ctx, real); err != nil {
		t.Fatalf("a real post with an example's link must go out: %v", err)
	}
	if sp, _ := h.store.Post(ctx, "md:real"); sp.State != store.PostPublished {
		t.Errorf("real post state %s", sp.State)
	}
}
