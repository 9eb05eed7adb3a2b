package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/config"
)

type rssItem struct{ guid, title, body, date string }

func rss(items ...rssItem) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>CAMACA news</title><link>https://camaca.example/</link>`)
	for _, it := range items {
		fmt.Fprintf(&b, `<item><guid>%s</guid><title>%s</title><link>https://camaca.example/news/%s</link><description><![CDATA[%s]]></description><pubDate>%s</pubDate></item>`,
			it.guid, it.title, strings.ToLower(strings.ReplaceAll(it.title, " ", "-")), it.body, it.date)
	}
	b.WriteString(`</channel></rss>`)
	return b.String()
}

// feedServer serves a mutable feed with an ETag and counts full responses.
type feedServer struct {
	mu         sync.Mutex
	body       string
	full, n304 int
	sawINM     bool
}

func (f *feedServer) set(body string) { f.mu.Lock(); f.body = body; f.mu.Unlock() }

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	etag := fmt.Sprintf(`"%x"`, len(f.body)*31+strings.Count(f.body, "<item>"))
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") != "" {
		f.sawINM = true
	}
	if r.Header.Get("If-None-Match") == etag {
		f.n304++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f.full++
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprint(w, f.body)
}

const (
	d1 = "Mon, 06 Nov 2023 09:00:00 GMT"
	d2 = "Wed, 08 Nov 2023 09:00:00 GMT"
	d3 = "Fri, 10 Nov 2023 09:00:00 GMT"
)

func TestFeedFirstPollSeedsThenPublishesOnlyNewItems(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "email")
	srv := &feedServer{}
	srv.set(rss(rssItem{"a", "Travel lockdown", "Perhaps the only positive", d1}, rssItem{"b", "ICAT Call to Action", "On 8 November 2023", d2}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	f := config.Feed{Name: "site", URL: ts.URL, Schedule: "@every 5m", PublishNewest: 1}
	ctx := context.Background()
	b := h.bot(Options{Feeds: []config.Feed{f}, Fetcher: &feed.Fetcher{Client: ts.Client()}})

	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	// Only the newest item of the back catalogue is published.
	if got := publishedTitles(t, h); strings.Join(got, "|") != "ICAT Call to Action" {
		t.Fatalf("first poll published %q, want only the newest item", got)
	}
	// Unchanged feed: a 304, nothing parsed, nothing published.
	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if srv.n304 != 1 || !srv.sawINM {
		t.Fatalf("second poll should be conditional and answered 304 (304s=%d)", srv.n304)
	}
	// A new item, plus the old items re-dated and one re-GUIDed: only the new one goes out.
	srv.set(rss(
		rssItem{"a", "Travel lockdown", "Perhaps the only positive", d3},
		rssItem{"b-moved", "ICAT Call to Action", "On 8 November 2023", d3},
		rssItem{"c", "UNODC not up to the job", "Radical Action", d3},
	))
	// A restart between polls must not matter.
	h.reopen()
	b = h.bot(Options{Feeds: []config.Feed{f}, Fetcher: &feed.Fetcher{Client: ts.Client()}})
	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if got := publishedTitles(t, h); len(got) != 2 || got[0] != "UNODC not up to the job" {
		t.Fatalf("after the update published %q, want the new item only on top of the first", got)
	}
}

func TestFeedEditPolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"ignore", "update"} {
		t.Run(policy, func(t *testing.T) {
			h := setup(t, "mastodon")
			dir := t.TempDir()
			path := filepath.Join(dir, "feed.xml")
			write := func(body string) {
				if err := os.WriteFile(path, []byte(rss(rssItem{"a", "Call to Action", body, d1})), 0o644); err != nil {
					t.Fatal(err)
				}
				// Local files use their modification time as Last-Modified.
				mt := time.Now().Add(time.Duration(len(body)) * time.Second)
				os.Chtimes(path, mt, mt)
			}
			write("First version")
			f := config.Feed{Name: "site", URL: path, Schedule: "@every 5m", PublishNewest: 1, OnEdit: policy}
			b := h.bot(Options{Feeds: []config.Feed{f}})
			ctx := context.Background()
			if err := b.PollFeed(ctx, f); err != nil {
				t.Fatal(err)
			}
			write("First version, now with a correction")
			if err := b.PollFeed(ctx, f); err != nil {
				t.Fatal(err)
			}
			got := publishedTitles(t, h)
			want := 1
			if policy == "update" {
				want = 2
			}
			if len(got) != want {
				t.Fatalf("policy %s published %q", policy, got)
			}
			if policy == "update" && !strings.HasPrefix(got[0], "Update: ") {
				t.Errorf("update note title %q", got[0])
			}
		})
	}
}

func TestBrokenFeedIsRecordedAndLosesNothing(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<rss><channel><item><title>unterminated")
	}))
	defer ts.Close()
	f := config.Feed{Name: "broken", URL: ts.URL, Schedule: "@every 5m"}
	b := h.bot(Options{Feeds: []config.Feed{f}, Fetcher: &feed.Fetcher{Client: ts.Client()}})
	if err := b.PollFeed(context.Background(), f); err != nil {
		t.Fatalf("a broken feed is logged and retried on schedule, not a job failure: %v", err)
	}
	st, _ := h.store.Feed(context.Background(), "broken")
	if st.LastError == "" || !strings.Contains(st.LastError, "broken") {
		t.Errorf("the feed's error should be recorded naming the feed: %q", st.LastError)
	}
}

func TestScheduledPostsFireAtTheirTime(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	dir := t.TempDir()
	files := map[string]string{
		"due.md":    "---\ntitle: Support this Campaign\n---\nThe UN needs to support CAMACA.\n",
		"later.md":  "---\ntitle: Special Report\npublish_at: 2026-11-27T12:00:00Z\n---\nClick the button below.\n",
		"draft.md":  "---\ntitle: No Future\ndraft: true\n---\nNot yet.\n",
		"broken.md": "---\ntitle: [unclosed\n---\nbody\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := h.bot(Options{MarkdownDir: dir})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := publishedTitles(t, h); strings.Join(got, "|") != "Support this Campaign" {
		t.Fatalf("at 09:00 published %q, want only the due post", got)
	}
	h.clock.Set(time.Date(2026, 11, 27, 11, 59, 59, 0, time.UTC))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := publishedTitles(t, h); len(got) != 1 {
		t.Fatalf("one second early published %q", got)
	}
	h.clock.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := publishedTitles(t, h); len(got) != 2 || got[0] != "Special Report" {
		t.Fatalf("at 12:00 published %q, want the scheduled post too", got)
	}
	// Each post went to each channel once, however often the folder is scanned.
	counts, _ := h.store.CountDeliveries(ctx)
	if counts[store.DeliveryPending] != 4 {
		t.Fatalf("ledger %v, want 4 pending deliveries", counts)
	}
}

func TestCatchUpAfterDowntime(t *testing.T) {
	t.Parallel()
	h := setup(t, "email")
	ctx := context.Background()
	sched := config.Schedules{Digest: "0 9 * * *", MaxLateness: 6 * time.Hour}
	// Crier last sent a digest yesterday at 09:00 and was down this morning.
	if err := h.store.SetLastRun(ctx, digestName, time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC))
	b := h.bot(Options{Schedules: sched})
	if err := b.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countJobs(t, h, "crier.digest"); n != 1 {
		t.Fatalf("want one catch-up digest job, got %d", n)
	}
	// A second start does not queue a second catch-up.
	if err := b.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countJobs(t, h, "crier.digest"); n != 1 {
		t.Fatalf("catch-up queued twice: %d jobs", n)
	}

	// Down for longer than max_lateness: skipped (and logged), not run.
	h2 := setup(t, "email")
	h2.store.SetLastRun(ctx, digestName, time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC))
	h2.clock.Set(time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC))
	b2 := h2.bot(Options{Schedules: sched})
	if err := b2.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countJobs(t, h2, "crier.digest"); n != 0 {
		t.Fatalf("a run missed by more than max_lateness must be skipped, got %d jobs", n)
	}
}

func countJobs(t *testing.T, h *testBundle, kind string) int {
	t.Helper()
	var n int
	if err := h.store.DB().QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = $1`, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// publishedTitles lists published posts, newest first.
func publishedTitles(t *testing.T, h *testBundle) []string {
	t.Helper()
	rows, err := h.store.DB().Query(`SELECT title FROM posts WHERE state = 'published' ORDER BY publish_at DESC, created_at DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

func TestFeedDefaultsApplyToItems(t *testing.T) {
	t.Parallel()
	f := config.Feed{Name: "site", ContentWarning: "child trafficking", Tags: []string{"Human Rights", "CAMACA"}}
	p := WithFeedDefaults(samplePost("feed:site:1"), f)
	if p.ContentWarning != "child trafficking" || p.Source.Name != "site" {
		t.Fatalf("defaults not applied: %+v", p)
	}
	own := samplePost("feed:site:2")
	own.ContentWarning = "violence"
	own.Tags = []string{"human rights"}
	p = WithFeedDefaults(own, f)
	if p.ContentWarning != "violence" || strings.Join(p.Tags, ",") != "human rights,CAMACA" {
		t.Fatalf("an item's own warning and tags win, without duplicates: %+v", p)
	}
}
