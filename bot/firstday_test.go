package bot

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/schedules"
)

func writePosts(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func deliveredChannels(t *testing.T, st *store.Store, postID string) string {
	t.Helper()
	ds, err := st.Deliveries(context.Background(), postID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Channel)
	}
	return strings.Join(names, ",")
}

// TestExamplesNeverLeaveTheOutbox: once a channel sends for real, example
// posts and the items of an example feed are held back (state example),
// while the organiser's own post goes out; an example queued earlier (for
// the outbox) is refused by the real sender; and a digest sent for real
// leaves examples out.
func TestExamplesNeverLeaveTheOutbox(t *testing.T) {
	h := setup(t, "mastodon")
	real := h.chans[0]
	box := newFakeChannel("discord")
	dg := &digestChannel{fakeChannel: newFakeChannel("email")}
	dir := writePosts(t, map[string]string{
		"sample.md": "---\nexample: true\ntitle: ICAT's Call to Action\n---\nA sample.\n",
		"ours.md":   "---\ntitle: Vigil on Saturday\n---\nJoin us.\n",
	})
	srv := &feedServer{}
	srv.set(rss(rssItem{"a", "Child trafficking is rising again", "Sample item", d1}))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	f := config.Feed{Name: "campaign-site", URL: ts.URL, Schedule: "@every 5m", PublishNewest: 1, Example: true}
	b := h.bot(Options{MarkdownDir: dir, Feeds: []config.Feed{f}, Fetcher: &feed.Fetcher{Client: ts.Client()},
		Channels: []channels.Channel{
			{Name: "discord", Formatter: box, Sender: box, Outbox: true},
			{Name: "email", Formatter: dg, Sender: dg},
		}})
	ctx := context.Background()
	if !b.SendsForReal() {
		t.Fatal("a channel with credentials sends for real")
	}
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.PollFeed(ctx, f); err != nil {
		t.Fatal(err)
	}
	if got := publishedTitles(t, h); strings.Join(got, "|") != "Vigil on Saturday" {
		t.Fatalf("published %q, want only the organiser's own post", got)
	}
	if sp, _ := h.store.Post(ctx, "md:sample"); sp.State != store.PostExample {
		t.Fatalf("example post state %q, want example", sp.State)
	}
	rows, _ := h.store.DB().Query(`SELECT state FROM posts WHERE source_kind = 'feed'`)
	var feedStates []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		feedStates = append(feedStates, s)
	}
	rows.Close()
	if strings.Join(feedStates, ",") != "example" {
		t.Fatalf("example feed item states %v, want [example]", feedStates)
	}
	// Scanning again changes nothing.
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliveredChannels(t, h.store, "md:sample"); got != "" {
		t.Fatalf("example queued to %s", got)
	}

	// crier publish of an example reaches the outbox channel only.
	sample := samplePost("md:sample")
	sample.Example = true
	queued, err := b.Publish(ctx, sample)
	if err != nil || fmt.Sprint(queued) != "[discord]" {
		t.Fatalf("publishing an example queued %v (%v), want only the outbox channel", queued, err)
	}

	// An example queued for mastodon while it had no credentials (a first
	// run), delivered after credentials came: the real sender refuses it.
	early := samplePost("md:early")
	early.Example = true
	h.chans = nil // the next bots get only the channels given
	hb := h.bot(Options{Channels: []channels.Channel{{Name: "mastodon", Formatter: real, Sender: real, Outbox: true}}})
	if _, err := hb.Publish(ctx, early); err != nil {
		t.Fatal(err)
	}
	nb := h.bot(Options{Channels: []channels.Channel{{Name: "mastodon", Formatter: real, Sender: real}}})
	err = nb.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: early.ID, Channel: "mastodon"}, number: 1, max: 3})
	if !isCancel(err) || real.count(early.ID) != 0 {
		t.Fatalf("the real sender must refuse an example for good: err %v, sent %d", err, real.count(early.ID))
	}
	if d, _ := h.store.Delivery(ctx, early.ID, "mastodon"); d.State != store.DeliveryFailed || !strings.Contains(d.LastError, "example") {
		t.Fatalf("delivery %+v: want failed, saying why", d)
	}

	// The digest sent for real leaves the example out.
	h.clock.Set(h.clock.Now().Add(time.Minute))
	if err := b.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dg.digests) != "[[md:ours]]" {
		t.Fatalf("digest %v, want only the organiser's post", dg.digests)
	}
}

// TestExamplesRenderToTheOutboxWithoutCredentials keeps the zero-setup
// demo: with every channel in the outbox, examples are published there.
func TestExamplesRenderToTheOutboxWithoutCredentials(t *testing.T) {
	h := setup(t)
	box := newFakeChannel("mastodon")
	dir := writePosts(t, map[string]string{"sample.md": "---\nexample: true\ntitle: ICAT's Call to Action\n---\nA sample.\n"})
	b := h.bot(Options{MarkdownDir: dir, Channels: []channels.Channel{{Name: "mastodon", Formatter: box, Sender: box, Outbox: true}}})
	if b.SendsForReal() {
		t.Fatal("outbox only")
	}
	if err := b.PublishDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := deliveredChannels(t, h.store, "md:sample"); got != "mastodon" {
		t.Fatalf("example delivered to %q, want the outbox channel", got)
	}
}

// TestDigestRendersToTheOutbox: with newsletter: digest and no SMTP
// credentials, publishing queues no per-post mail, and the digest run
// writes the digest to the outbox (it used to write nothing and still
// advance its window).
func TestDigestRendersToTheOutbox(t *testing.T) {
	h := setup(t, "mastodon")
	f, err := email.NewFormatter(email.Config{From: "CAMACA <news@camaca.example>"}, channels.Campaign{Name: "CAMACA", PublicURL: "https://camaca.example"})
	if err != nil {
		t.Fatal(err)
	}
	boxDir := t.TempDir()
	b := h.bot(Options{Channels: []channels.Channel{{Name: "email", Formatter: f, Sender: outbox.New(boxDir), Outbox: true, DigestOnly: true}}})
	ctx := context.Background()
	for _, id := range []string{"md:one", "md:two"} {
		queued, err := b.Publish(ctx, samplePost(id))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(queued) != "[mastodon]" {
			t.Fatalf("queued %v: a digest-only newsletter takes no per-post delivery", queued)
		}
	}
	h.clock.Set(h.clock.Now().Add(time.Minute))
	if err := b.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(boxDir, "email"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || !strings.HasPrefix(names[0], "digest-") {
		t.Fatalf("outbox/email holds %v, want the digest's .eml, .html and .json", names)
	}
	data, _ := os.ReadFile(filepath.Join(boxDir, "email", strings.TrimSuffix(names[0], filepath.Ext(names[0]))+".json"))
	if !strings.Contains(string(data), "CAMACA news: ICAT issues a Call to Action and 1 more") {
		t.Fatalf("digest subject missing:\n%s", data)
	}
	w, err := PendingDigest(ctx, h.store, h.clock.Now())
	if err != nil || len(w.Posts) != 0 {
		t.Fatalf("after the digest the window is empty: %v %v", w.Posts, err)
	}
}

var london = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return loc
}()

// TestZonelessPublishAtIsCampaignTime: "09:00" in a post means 09:00 in
// campaign.timezone, in summer (BST, 08:00 UTC) and in winter (GMT).
func TestZonelessPublishAtIsCampaignTime(t *testing.T) {
	for _, tc := range []struct {
		name, at string
		utc      time.Time
	}{
		{"summer", "2031-07-01 09:00", time.Date(2031, 7, 1, 8, 0, 0, 0, time.UTC)},
		{"winter", "2031-01-06 09:00", time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC)},
		{"offset wins", "2031-07-01T09:00:00+02:00", time.Date(2031, 7, 1, 7, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := setup(t, "mastodon")
			dir := writePosts(t, map[string]string{"vigil.md": "---\ntitle: Vigil\npublish_at: " + tc.at + "\n---\nJoin us.\n"})
			b := h.bot(Options{MarkdownDir: dir, Location: london})
			ctx := context.Background()
			h.clock.Set(tc.utc.Add(-time.Second))
			if err := b.PublishDue(ctx); err != nil {
				t.Fatal(err)
			}
			if got := publishedTitles(t, h); len(got) != 0 {
				t.Fatalf("published a second before %s UTC", tc.utc.Format(time.TimeOnly))
			}
			h.clock.Set(tc.utc)
			if err := b.PublishDue(ctx); err != nil {
				t.Fatal(err)
			}
			if got := publishedTitles(t, h); len(got) != 1 {
				t.Fatalf("not published at %s UTC", tc.utc.Format(time.TimeOnly))
			}
		})
	}
}

// TestCronSpecsRunInTheCampaignZone: a spec without CRON_TZ fires at the
// campaign's local time across daylight saving; one with CRON_TZ keeps it.
func TestCronSpecsRunInTheCampaignZone(t *testing.T) {
	h := setup(t)
	b := h.bot(Options{Location: london, Schedules: config.Schedules{Digest: "0 9 * * MON"},
		Feeds: []config.Feed{{Name: "ny", Schedule: "CRON_TZ=America/New_York 0 9 * * *"}}})
	specs := map[string]string{}
	for _, j := range b.scheduledJobs() {
		specs[j.Name] = j.Spec
	}
	next := func(spec string, after time.Time) time.Time {
		s, err := schedules.Parse(spec)
		if err != nil {
			t.Fatal(err)
		}
		return s.Next(after).UTC()
	}
	if got := next(specs[digestName], time.Date(2031, 6, 28, 0, 0, 0, 0, time.UTC)); got != time.Date(2031, 6, 30, 8, 0, 0, 0, time.UTC) {
		t.Errorf("summer digest at %s, want Monday 09:00 BST = 08:00 UTC", got)
	}
	if got := next(specs[digestName], time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)); got != time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC) {
		t.Errorf("winter digest at %s, want Monday 09:00 GMT", got)
	}
	if got := next(specs[feedScheduleName("ny")], time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)); got != time.Date(2031, 1, 1, 14, 0, 0, 0, time.UTC) {
		t.Errorf("a spec with its own CRON_TZ ran at %s, want 09:00 New York", got)
	}
	if n, ok := b.NextDigest(time.Date(2031, 6, 28, 0, 0, 0, 0, time.UTC)); !ok || n.Format("15:04 MST") != "09:00 BST" {
		t.Errorf("next digest shown as %s", n.Format("15:04 MST"))
	}
}
