package bot

import (
	"bytes"
	"context"
	"errors"
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
)

func TestSameStoryFromTwoSourcesIsPublishedOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "mastodon")
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
	h := newHarness(t, "mastodon", "discord")
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
	h := newHarness(t, "mastodon")
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
	h := newHarness(t, "mastodon", "discord")
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
	for deadline := time.Now().Add(10 * time.Second); countRunning(t, h) > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
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

func countRunning(t *testing.T, h *harness) int {
	t.Helper()
	var n int
	if err := h.store.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE state = 'running'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
