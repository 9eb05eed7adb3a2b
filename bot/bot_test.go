package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/post"
)

// fakeChannel formats a post as its title and records what it "sent". Its
// failures are scripted per post. It honours the ledger like a real sender:
// a part already recorded is never sent again.
type fakeChannel struct {
	name string
	mu   sync.Mutex
	sent map[string]int // post id -> messages that reached the "remote"
	// fail returns the error for an attempt, or nil to succeed.
	fail func(d channels.Delivery) error
	// checks counts attempts that had to check the remote side first.
	checks int
	// notes, when set, are what a successful send says it left out.
	notes []string
	// started and release, when set, hold a send in flight until released
	// or until its context ends, like a real network call.
	started, release chan struct{}
	// remote is the network's copy of what was sent, for corrections.
	remote *remote
}

func newFakeChannel(name string) *fakeChannel {
	return &fakeChannel{name: name, sent: map[string]int{},
		remote: &remote{text: map[string]string{}, edits: map[string]int{}, deleted: map[string]int{}}}
}

func (f *fakeChannel) Format(p post.Post) (channels.Payload, error) {
	return channels.Payload{Channel: f.name, PostID: p.ID, Body: fakeBody{"text": p.Title}}, nil
}

func (f *fakeChannel) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	parts, err := d.Ledger.Parts(ctx)
	if err != nil {
		return channels.Receipt{}, err
	}
	if f.release != nil {
		close(f.started)
		select {
		case <-f.release:
		case <-ctx.Done():
			return channels.Receipt{}, fmt.Errorf("posting: %w", ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d.PreviousUnknown {
		f.checks++
	}
	if len(parts) > 0 {
		return channels.Receipt{RemoteID: parts[0].RemoteID, RemoteURL: parts[0].RemoteURL}, nil
	}
	if f.fail != nil {
		if err := f.fail(d); err != nil {
			if k, _ := channels.Classify(err); k == channels.KindAmbiguous {
				// The request reached the remote side; only the answer was lost.
				f.sent[d.PostID]++
			}
			return channels.Receipt{}, err
		}
	}
	f.sent[d.PostID]++
	id := fmt.Sprintf("%s-%d", f.name, len(f.sent))
	f.remote.mu.Lock()
	f.remote.text[id] = p.Body.(fakeBody)["text"]
	f.remote.mu.Unlock()
	if err := d.Ledger.SavePart(ctx, channels.Part{Index: 0, RemoteID: id}); err != nil {
		return channels.Receipt{}, err
	}
	return channels.Receipt{RemoteID: id, RemoteURL: "https://remote.example/" + id, Notes: f.notes}, nil
}

func (f *fakeChannel) count(postID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[postID]
}

func (f *fakeChannel) channel() channels.Channel {
	return channels.Channel{Name: f.name, Formatter: f, Sender: f}
}

// fastRetry retries at once, so River-driven tests don't wait for backoff.
type fastRetry struct{}

func (fastRetry) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// testBundle is what a bot test works with besides the Bot it builds
// (River's tests' setup/bundle shape): a store in the test's own folder, a
// clock, and fake channels. Every test has its own, so tests run in
// parallel.
type testBundle struct {
	t     *testing.T
	dir   string
	store *store.Store
	clock *clock
	chans []*fakeChannel
	// poll is River's fetch interval (20 ms when zero).
	poll time.Duration
}

// setup returns a bundle with one fake channel per name.
func setup(t *testing.T, names ...string) *testBundle {
	t.Helper()
	h := &testBundle{t: t, dir: t.TempDir(), clock: &clock{t: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}}
	for _, n := range names {
		h.chans = append(h.chans, newFakeChannel(n))
	}
	h.reopen()
	return h
}

// reopen opens the store again, as a restarted daemon would.
func (h *testBundle) reopen() {
	h.t.Helper()
	if h.store != nil {
		h.store.Close()
	}
	st, err := store.Open(context.Background(), filepath.Join(h.dir, "crier.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = st
	h.t.Cleanup(func() { st.Close() })
}

func (h *testBundle) bot(opts Options) *Bot {
	h.t.Helper()
	opts.Store = h.store
	opts.Now = h.clock.Now
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.RetryPolicy = fastRetry{}
	opts.PollInterval = cmp.Or(h.poll, 20*time.Millisecond)
	if opts.Schedules.PublishDue == "" {
		opts.Schedules.PublishDue = "@every 1m"
	}
	if opts.Schedules.MaxLateness == 0 {
		opts.Schedules.MaxLateness = 6 * time.Hour
	}
	if opts.Delivery == (config.Delivery{}) {
		opts.Delivery = config.Delivery{Timeout: 10 * time.Second, MaxAttempts: 3, Workers: 2}
	}
	for _, c := range h.chans {
		opts.Channels = append(opts.Channels, c.channel())
	}
	b, err := New(context.Background(), opts)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// waitFor polls the ledger until cond holds. The deadline only bounds a
// broken test; nothing asserts on how long delivery took.
func (h *testBundle) waitFor(what string, cond func(map[store.DeliveryState]int) bool) {
	h.t.Helper()
	var counts map[store.DeliveryState]int
	if !testnet.Poll(30*time.Second, func() bool {
		var err error
		if counts, err = h.store.CountDeliveries(context.Background()); err != nil {
			h.t.Fatal(err)
		}
		return cond(counts)
	}) {
		h.t.Fatalf("timed out waiting for %s; ledger: %v", what, counts)
	}
}

func samplePost(id string) post.Post {
	p := post.Post{ID: id, Title: "ICAT issues a Call to Action", Body: "The UN needs to support CAMACA.",
		Link: "https://camaca.example/news/" + id, Source: post.Source{Kind: "markdown", Key: id}}
	p.Source.Hash = p.ContentHash()
	return p
}

func TestFanOutDeliversToEveryChannelOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord", "email")
	b := h.bot(Options{})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:call-to-action")
	queued, err := b.Publish(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != 3 {
		t.Fatalf("queued %v, want all three channels", queued)
	}
	h.waitFor("three sent deliveries", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 3 })
	// Publishing again (a second scan, a restart) sends nothing new.
	if queued, err := b.Publish(ctx, p); err != nil || len(queued) != 0 {
		t.Fatalf("republish queued %v, %v; want nothing", queued, err)
	}
	for _, c := range h.chans {
		if n := c.count(p.ID); n != 1 {
			t.Errorf("%s received %d copies, want 1", c.name, n)
		}
	}
	ds, _ := h.store.Deliveries(ctx, p.ID)
	for _, d := range ds {
		if d.RemoteID == "" || d.RemoteURL == "" {
			t.Errorf("%s: remote id/url not recorded: %+v", d.Channel, d)
		}
	}
}

// A send that succeeded but left something out (an image that could not be
// fetched) records why, for `crier status`.
func TestDeliveryNotesAreRecorded(t *testing.T) {
	h := setup(t, "mastodon")
	h.chans[0].notes = []string{"image left out: https://camaca.example/a.png: the server answered 404 Not Found"}
	b := h.bot(Options{})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:noted")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.waitFor("a sent delivery", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	d, err := h.store.Delivery(ctx, p.ID, "mastodon")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != store.DeliverySent || d.Note != h.chans[0].notes[0] {
		t.Errorf("delivery %+v, want sent with the note", d)
	}
}

func TestOneChannelFailingNeverDelaysTheOthers(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord", "email")
	h.chans[1].fail = func(channels.Delivery) error { return channels.Temporary(errors.New("discord is down (502)")) }
	h.chans[2].fail = func(channels.Delivery) error { return channels.Permanent(errors.New("535 authentication failed")) }
	b := h.bot(Options{})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	p := samplePost("md:one")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	h.waitFor("mastodon sent, discord and email failed", func(c map[store.DeliveryState]int) bool {
		return c[store.DeliverySent] == 1 && c[store.DeliveryFailed] == 2
	})
	ds, _ := h.store.Deliveries(ctx, p.ID)
	byName := map[string]store.Delivery{}
	for _, d := range ds {
		byName[d.Channel] = d
	}
	if d := byName["discord"]; d.Attempts != 3 || d.LastError == "" {
		t.Errorf("temporary failure should be retried up to max_attempts (3): %+v", d)
	}
	if d := byName["email"]; d.Attempts != 1 {
		t.Errorf("permanent failure must not be retried: %+v", d)
	}
}

func TestAttemptOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		attempt   int
		wantState store.DeliveryState
		check     func(t *testing.T, err error)
	}{
		{"temporary retries", channels.Temporary(errors.New("503")), 1, store.DeliveryPending, func(t *testing.T, err error) {
			if err == nil || isCancel(err) || isSnooze(err) {
				t.Errorf("want a plain error for River to retry, got %v", err)
			}
		}},
		{"temporary on the last attempt fails", channels.Temporary(errors.New("503")), 3, store.DeliveryFailed, nil},
		{"permanent cancels", channels.Permanent(errors.New("401")), 1, store.DeliveryFailed, func(t *testing.T, err error) {
			if !isCancel(err) {
				t.Errorf("want JobCancel, got %v", err)
			}
		}},
		{"ambiguous is unknown", channels.Ambiguous(errors.New("reset after write")), 1, store.DeliveryUnknown, nil},
		{"deadline is ambiguous", fmt.Errorf("posting: %w", context.DeadlineExceeded), 1, store.DeliveryUnknown, nil},
		{"a sender's own verdict on a cancel stands", channels.Temporary(fmt.Errorf("waiting for the rate limit: %w", context.Canceled)), 1, store.DeliveryPending, nil},
		{"rate limit snoozes", channels.RateLimited(errors.New("429"), 42*time.Second), 3, store.DeliveryPending, func(t *testing.T, err error) {
			var s *rivertype.JobSnoozeError
			if !errors.As(err, &s) || s.Duration != 42*time.Second {
				t.Errorf("want JobSnooze(42s), got %v", err)
			}
		}},
	}
	// The ledger keeps each failure's class: the console explains by it.
	kinds := map[string]string{"temporary retries": "temporary", "temporary on the last attempt fails": "temporary",
		"permanent cancels": "permanent", "ambiguous is unknown": "ambiguous", "deadline is ambiguous": "ambiguous",
		"a sender's own verdict on a cancel stands": "temporary", "rate limit snoozes": "rate-limited"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := setup(t, "mastodon")
			h.chans[0].fail = func(channels.Delivery) error { return tt.err }
			b := h.bot(Options{})
			ctx := context.Background()
			p := samplePost("md:x")
			if _, err := b.Publish(ctx, p); err != nil {
				t.Fatal(err)
			}
			err := b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "mastodon"}, number: tt.attempt, max: 3})
			d, _ := h.store.Delivery(ctx, p.ID, "mastodon")
			if d.State != tt.wantState {
				t.Errorf("state %s, want %s (last error %q)", d.State, tt.wantState, d.LastError)
			}
			if d.ErrorKind != kinds[tt.name] {
				t.Errorf("error kind %q, want %q", d.ErrorKind, kinds[tt.name])
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func isCancel(err error) bool {
	var c *rivertype.JobCancelError
	return errors.As(err, &c)
}

func isSnooze(err error) bool {
	var s *rivertype.JobSnoozeError
	return errors.As(err, &s)
}

func TestRetryAfterAmbiguousFailureDoesNotDuplicate(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	lost := true
	h.chans[0].fail = func(d channels.Delivery) error {
		if lost {
			lost = false
			return channels.Ambiguous(errors.New("connection reset after the request was written"))
		}
		return nil
	}
	b := h.bot(Options{})
	ctx := context.Background()
	p := samplePost("md:x")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	_ = b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "mastodon"}, number: 1, max: 3})
	if err := b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "mastodon"}, number: 2, max: 3}); err != nil {
		t.Fatal(err)
	}
	if h.chans[0].checks != 1 {
		t.Errorf("the retry must be told the previous outcome is unknown (checks=%d)", h.chans[0].checks)
	}
}

func TestRestartMidDeliveryLosesNothingAndSendsOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	ctx := context.Background()
	b := h.bot(Options{})
	p := samplePost("md:restart")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The first daemon dies right after Mastodon accepted the toot and the
	// sender recorded its id, before the attempt was marked sent; Discord
	// never started.
	if _, err := h.store.StartAttempt(ctx, p.ID, "mastodon", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Ledger(p.ID, "mastodon", h.clock.Now).SavePart(ctx, channels.Part{RemoteID: "109"}); err != nil {
		t.Fatal(err)
	}
	h.chans[0].sent[p.ID] = 1

	h.reopen()
	b2 := h.bot(Options{})
	// The killed attempt's job is still "running" in River's table; River
	// rescues it once delivery.timeout has passed. Simulate the rescue by
	// running the job's attempt directly, as River would.
	for _, ch := range []string{"mastodon", "discord"} {
		if err := b2.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: ch}, number: 2, max: 3}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range h.chans {
		if n := c.count(p.ID); n != 1 {
			t.Errorf("%s has %d copies after the restart, want exactly 1", c.name, n)
		}
	}
	d, _ := h.store.Delivery(ctx, p.ID, "mastodon")
	if d.State != store.DeliverySent || d.RemoteID != "109" {
		t.Errorf("mastodon delivery after restart: %+v", d)
	}
}

func TestStopLetsInFlightDeliveriesFinish(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	started := make(chan struct{})
	release := make(chan struct{})
	h.chans[0].started, h.chans[0].release = started, release
	b := h.bot(Options{})
	// The daemon starts the bot with the signal context; SIGINT cancels it
	// before Stop is called.
	ctx := context.Background()
	sigCtx, signal := context.WithCancel(ctx)
	if err := b.Start(sigCtx); err != nil {
		t.Fatal(err)
	}
	p := samplePost("md:inflight")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	<-started
	signal()
	stopped := make(chan error)
	go func() { stopped <- b.Stop(ctx) }()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	d, _ := h.store.Delivery(ctx, p.ID, "mastodon")
	if d.State != store.DeliverySent {
		t.Fatalf("in-flight delivery not finished by a graceful stop: %+v", d)
	}
}

var _ river.ClientRetryPolicy = fastRetry{}

func TestUnconfirmedIsStickyUntilASuccess(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	var told []bool
	outcomes := []error{
		channels.Ambiguous(errors.New("reset after write")),
		channels.Temporary(errors.New("503 while checking recent statuses")),
		channels.RateLimited(errors.New("429 while checking"), time.Second),
		nil,
	}
	h.chans[0].fail = func(d channels.Delivery) error {
		told = append(told, d.PreviousUnknown)
		return outcomes[len(told)-1]
	}
	b := h.bot(Options{})
	ctx := context.Background()
	p := samplePost("md:sticky")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	for i := range outcomes {
		_ = b.deliver(ctx, attempt{DeliverArgs: DeliverArgs{PostID: p.ID, Channel: "mastodon"}, number: i + 1, max: 10})
	}
	if fmt.Sprint(told) != "[false true true true]" {
		t.Fatalf("every attempt after an ambiguous one must check the remote side first; PreviousUnknown per attempt: %v", told)
	}
	d, _ := h.store.Delivery(ctx, p.ID, "mastodon")
	if d.State != store.DeliverySent || d.Unconfirmed {
		t.Fatalf("a success clears it: %+v", d)
	}
}

func TestOrphanedDeliveriesAreRequeuedOnStart(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	ctx := context.Background()
	b := h.bot(Options{})
	p := samplePost("md:orphan")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The job vanished (discarded by River's rescuer on its last attempt)
	// while the ledger row was still "sending".
	if _, err := h.store.DB().Exec(`DELETE FROM river_job`); err != nil {
		t.Fatal(err)
	}
	h.store.StartAttempt(ctx, p.ID, "mastodon", h.clock.Now())
	b2 := h.bot(Options{})
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b2.Stop(ctx)
	h.waitFor("the orphan delivered", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	if h.chans[0].checks != 1 {
		t.Errorf("the re-queued attempt must check the remote side first (checks=%d)", h.chans[0].checks)
	}
}

func TestPublishToSomeChannelsKeepsTheScheduleForTheOthers(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord", "email")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "later.md"), []byte("---\ntitle: Special Report\npublish_at: 2026-11-27T12:00:00Z\n---\nSoon.\n"), 0o644)
	b := h.bot(Options{MarkdownDir: dir})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	sp, err := h.store.Post(ctx, "md:later")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PublishTo(ctx, sp.Post, []string{"mastodon"}); err != nil {
		t.Fatal(err)
	}
	if sp, _ := h.store.Post(ctx, "md:later"); sp.State != store.PostScheduled {
		t.Fatalf("a partial publish must leave the post scheduled, got %s", sp.State)
	}
	h.clock.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	ds, _ := h.store.Deliveries(ctx, "md:later")
	if len(ds) != 3 {
		t.Fatalf("when due, every channel gets it: %+v", ds)
	}
}

func TestRemovedScheduledPostIsWithdrawn(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	dir := t.TempDir()
	file := filepath.Join(dir, "later.md")
	os.WriteFile(file, []byte("---\ntitle: Special Report\npublish_at: 2026-11-27T12:00:00Z\n---\nSoon.\n"), 0o644)
	b := h.bot(Options{MarkdownDir: dir})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	// A typo first: nothing is withdrawn while a file does not parse.
	os.WriteFile(file, []byte("---\ntitle: [Special Report\n---\n"), 0o644)
	b.PublishDue(ctx)
	if sp, _ := h.store.Post(ctx, "md:later"); sp.State != store.PostScheduled {
		t.Fatalf("a broken file must not withdraw its post: %s", sp.State)
	}
	os.Remove(file)
	h.clock.Set(time.Date(2026, 11, 27, 13, 0, 0, 0, time.UTC))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if sp, _ := h.store.Post(ctx, "md:later"); sp.State != store.PostWithdrawn {
		t.Fatalf("an organiser who deletes a scheduled post cancels it; state %s", sp.State)
	}
	if c, _ := h.store.CountDeliveries(ctx); len(c) != 0 {
		t.Fatalf("a withdrawn post must never be delivered: %v", c)
	}
}

// digestChannel is a fake newsletter that records digests.
type digestChannel struct {
	*fakeChannel
	digests [][]string
}

func (d *digestChannel) Digest(ctx context.Context, id string, posts []post.Post) (channels.Receipt, error) {
	var ids []string
	for _, p := range posts {
		ids = append(ids, p.ID)
	}
	d.digests = append(d.digests, ids)
	return channels.Receipt{RemoteID: id}, nil
}

func TestDigestHonoursPerPostSkips(t *testing.T) {
	t.Parallel()
	h := setup(t)
	dg := &digestChannel{fakeChannel: newFakeChannel("email")}
	b := h.bot(Options{Channels: []channels.Channel{{Name: "email", Formatter: dg, Sender: dg}}})
	ctx := context.Background()
	keep := samplePost("md:keep")
	skip := samplePost("md:skip")
	skip.Channels = map[string]post.Override{"email": {Skip: true}}
	for _, p := range []post.Post{keep, skip} {
		if _, err := b.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dg.digests) != "[[md:keep]]" {
		t.Fatalf("digest contents %v", dg.digests)
	}
}

// resumableDigest pauses once (a provider's cap), then finishes.
type resumableDigest struct {
	digestChannel
	paused bool
}

func (d *resumableDigest) Digest(ctx context.Context, id string, posts []post.Post) (channels.Receipt, error) {
	d.digestChannel.Digest(ctx, id, posts)
	if !d.paused {
		d.paused = true
		return channels.Receipt{}, channels.RateLimited(errors.New("daily cap reached"), time.Hour)
	}
	return channels.Receipt{RemoteID: id}, nil
}

func TestResumedDigestKeepsItsWindow(t *testing.T) {
	t.Parallel()
	h := setup(t)
	dg := &resumableDigest{digestChannel: digestChannel{fakeChannel: newFakeChannel("email")}}
	b := h.bot(Options{Channels: []channels.Channel{{Name: "email", Formatter: dg, Sender: dg}}})
	ctx := context.Background()
	b.Publish(ctx, samplePost("md:one"))
	h.clock.Set(h.clock.Now().Add(time.Minute))
	if err := b.Digest(ctx); err == nil {
		t.Fatal("the first run should pause")
	}
	// A post published while the digest is paused waits for the next one.
	h.clock.Set(h.clock.Now().Add(time.Hour))
	b.Publish(ctx, samplePost("md:two"))
	h.clock.Set(h.clock.Now().Add(time.Hour))
	if err := b.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(h.clock.Now().Add(24 * time.Hour))
	if err := b.Digest(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dg.digests) != "[[md:one] [md:one] [md:two]]" {
		t.Fatalf("digests %v: a resumed digest must send the same posts, and the next one the rest", dg.digests)
	}
}

// TestKilledMidDeliveryIsRescuedAndSentOnce is the restart after a kill -9:
// the job is left "running" by a dead process and the ledger row "sending".
// River's rescuer takes the job back; the retry checks the remote side
// first and the post is sent exactly once.
func TestKilledMidDeliveryIsRescuedAndSentOnce(t *testing.T) {
	// Not parallel: its one-second job timeout must not compete for the CPU
	// with the other tests.
	h := setup(t, "mastodon")
	ctx := context.Background()
	b := h.bot(Options{})
	p := samplePost("md:killed")
	if _, err := b.Publish(ctx, p); err != nil {
		t.Fatal(err)
	}
	// What a process killed in the middle of the send leaves behind.
	if _, err := h.store.DB().Exec(`UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 hour'), attempted_by = '["dead-process"]'`); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.StartAttempt(ctx, p.ID, "mastodon", h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	b2 := h.bot(Options{RescueAfter: time.Second, Delivery: config.Delivery{Timeout: time.Second, MaxAttempts: 3, Workers: 2}})
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b2.Stop(ctx)
	h.waitFor("the rescued delivery sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	if n := h.chans[0].count(p.ID); n != 1 {
		t.Errorf("%d copies, want 1", n)
	}
	if h.chans[0].checks != 1 {
		t.Errorf("the rescued attempt must check the remote side first (checks=%d)", h.chans[0].checks)
	}
	if n := countJobs(t, h, "crier.deliver"); n != 1 {
		t.Errorf("%d delivery jobs: the start-up re-queue must not add one beside the running job", n)
	}
}

// A post scheduled in the store by the console (no file anywhere) is
// published by publish_due once its time has come, and not before.
func TestStoredScheduledPostIsPublishedWhenDue(t *testing.T) {
	h := setup(t, "mastodon")
	b := h.bot(Options{})
	ctx := context.Background()
	p := samplePost("console:vigil")
	p.Source = post.Source{Kind: "console", Name: "console", Key: p.ID}
	p.PublishAt = h.clock.Now().Add(2 * time.Minute)
	if err := h.store.SavePost(ctx, p, store.PostScheduled, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if sp, _ := h.store.Post(ctx, p.ID); sp.State != store.PostScheduled {
		t.Fatalf("before its time the post is %s", sp.State)
	}
	h.clock.Set(p.PublishAt)
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	sp, _ := h.store.Post(ctx, p.ID)
	ds, _ := h.store.Deliveries(ctx, p.ID)
	if sp.State != store.PostPublished || len(ds) != 1 {
		t.Fatalf("at its time: %s with %d deliveries", sp.State, len(ds))
	}
}

type fakeBody map[string]string

func (fakeBody) ChannelType() string { return "fake" }
