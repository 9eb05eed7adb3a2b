package bot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
)

// remote is what a fake network holds: each message's text, how often it
// was edited and whether it was deleted. Like the real channels, its
// corrector reads a message first and edits only what differs, so a retry
// after a lost answer makes no second edit.
type remote struct {
	mu      sync.Mutex
	text    map[string]string // remote id -> text
	edits   map[string]int
	deleted map[string]int
	// lose, when set, loses the answer of the next edit or deletion
	// after the network acted.
	lose bool
	// attempts are the Attempt of each Correct call, in order.
	attempts []int
}

func (f *fakeChannel) net() *remote { return f.remote }

func (f *fakeChannel) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(c.Parts)
	if err != nil {
		return nil, err
	}
	n := f.net()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.attempts = append(n.attempts, c.Attempt)
	want := p.Body.(fakeBody)["text"]
	var out []channels.PartResult
	if c.Style == channels.CorrectByRepost {
		for _, part := range parts {
			n.deleted[part.RemoteID]++
			id := fmt.Sprintf("%s-r%d-%d", part.RemoteID, c.Revision, part.Index)
			n.text[id] = want
			out = append(out, channels.PartResult{Index: part.Index, Outcome: channels.OutcomeReposted, RemoteID: id})
		}
		return out, nil
	}
	for _, part := range parts {
		r := channels.PartResult{Index: part.Index, Outcome: channels.OutcomeUnchanged, RemoteID: part.RemoteID}
		if n.text[part.RemoteID] != want {
			n.text[part.RemoteID] = want
			n.edits[part.RemoteID]++
			r.Outcome = channels.OutcomeEdited
			if n.lose {
				n.lose = false
				return out, channels.Ambiguous(errors.New("connection reset after the edit was written"))
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeChannel) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	n := f.net()
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []channels.PartResult
	for _, part := range parts {
		r := channels.PartResult{Index: part.Index, Outcome: channels.OutcomeGone, RemoteID: part.RemoteID}
		if n.deleted[part.RemoteID] == 0 {
			n.deleted[part.RemoteID]++
			r.Outcome = channels.OutcomeDeleted
		}
		out = append(out, r)
	}
	return out, nil
}

// sentText is what the network shows of a post's first message.
func (f *fakeChannel) sentText(t *testing.T, h *testBundle, postID string) (string, int) {
	t.Helper()
	parts, err := h.store.Parts(context.Background(), postID, f.name)
	if err != nil || len(parts) == 0 {
		t.Fatalf("%s: no part of %s recorded (%v)", f.name, postID, err)
	}
	n := f.net()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.text[parts[0].RemoteID], n.edits[parts[0].RemoteID]
}

// waitCorrection polls the history until the revision is no longer queued.
func waitCorrection(t *testing.T, h *testBundle, postID string, rev int) store.Correction {
	t.Helper()
	var c store.Correction
	if !testnet.Poll(30*time.Second, func() bool {
		var err error
		if c, err = h.store.Correction(context.Background(), postID, rev); err != nil {
			t.Fatal(err)
		}
		return c.State != store.CorrectionQueued
	}) {
		t.Fatalf("correction %d of %s still queued: %+v", rev, postID, c)
	}
	return c
}

func started(t *testing.T, h *testBundle, opts Options) *Bot {
	t.Helper()
	b := h.bot(opts)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(context.Background()) })
	return b
}

func publishedSample(t *testing.T, h *testBundle, b *Bot, id string, channels int) {
	t.Helper()
	if _, err := b.Publish(context.Background(), samplePost(id)); err != nil {
		t.Fatal(err)
	}
	h.waitFor("sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == channels })
}

// A correction whose answer is lost is retried and edits each message once;
// the history says who, what changed and what the network did.
func TestCorrectionLostAnswerEditsOnce(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:vigil", 2)
	h.chans[0].net().lose = true
	fixed := samplePost("md:vigil")
	fixed.Title = "The vigil starts at eight"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:vigil", Corrected: fixed, Note: "eight, not seven", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	c := waitCorrection(t, h, "md:vigil", rev)
	if c.State != store.CorrectionDone || c.By != "ana" || strings.Join(c.Changes, ",") != "title" {
		t.Fatalf("history: %+v", c)
	}
	for _, ch := range h.chans {
		text, edits := ch.sentText(t, h, "md:vigil")
		if text != fixed.Title || edits != 1 {
			t.Errorf("%s shows %q after %d edits, want the corrected title after exactly 1", ch.name, text, edits)
		}
	}
	for _, r := range c.Results {
		if r.State != store.CorrectionDone || len(r.Parts) != 1 {
			t.Errorf("%s: %+v", r.Channel, r)
		}
	}
	if sp, _ := h.store.Post(ctx, "md:vigil"); sp.Post.Title != fixed.Title {
		t.Errorf("the stored post reads %q", sp.Post.Title)
	}
	// The retry is told it is one: senders without idempotency keys
	// (Threads) read back only then.
	n := h.chans[0].net()
	n.mu.Lock()
	defer n.mu.Unlock()
	if fmt.Sprint(n.attempts) != "[1 2]" {
		t.Errorf("the sender was told attempts %v, want [1 2]", n.attempts)
	}
}

// A correction of a post whose delivery has not gone out yet changes what
// goes out: no job, and the delivery sends the corrected post.
func TestCorrectionBehindAnUnsentDeliveryChangesWhatIsSent(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	b := h.bot(Options{})
	ctx := context.Background()
	if _, err := b.Publish(ctx, samplePost("md:unsent")); err != nil {
		t.Fatal(err)
	}
	fixed := samplePost("md:unsent")
	fixed.Title = "Corrected before it went out"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:unsent", Corrected: fixed, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := h.store.Correction(ctx, "md:unsent", rev); c.State != store.CorrectionDone || !strings.Contains(c.Results[0].Note, "not sent yet") {
		t.Fatalf("the correction of an unsent post: %+v", c)
	}
	if n := countJobs(t, h, "crier.correction"); n != 0 {
		t.Errorf("%d correction jobs for a delivery not sent yet", n)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	h.waitFor("sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	if text, edits := h.chans[0].sentText(t, h, "md:unsent"); text != fixed.Title || edits != 0 {
		t.Errorf("sent %q with %d edits, want the corrected title and no edit", text, edits)
	}
}

// With approval required, a correction waits for an editor's approval.
func TestPendingCorrectionWaitsForApproval(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:approve", 1)
	fixed := samplePost("md:approve")
	fixed.Title = "Approved correction"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:approve", Corrected: fixed, By: "author", Pending: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := countJobs(t, h, "crier.correction"); n != 0 {
		t.Fatalf("%d correction jobs before approval", n)
	}
	if c, _ := h.store.Correction(ctx, "md:approve", rev); c.State != store.CorrectionAwaiting {
		t.Fatalf("state %q before approval", c.State)
	}
	if sp, _ := h.store.Post(ctx, "md:approve"); sp.Post.Title == fixed.Title {
		t.Fatal("the stored post changed before approval")
	}
	if err := b.ApproveCorrection(ctx, "md:approve", rev, "editor"); err != nil {
		t.Fatal(err)
	}
	c := waitCorrection(t, h, "md:approve", rev)
	if c.State != store.CorrectionDone || c.ApprovedBy != "editor" {
		t.Fatalf("after approval: %+v", c)
	}
	if text, _ := h.chans[0].sentText(t, h, "md:approve"); text != fixed.Title {
		t.Errorf("the network shows %q", text)
	}
	if err := b.ApproveCorrection(ctx, "md:approve", rev, "editor"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("approving twice: %v", err)
	}
}

// Withdrawing deletes what was sent, cancels what was not, and the post is
// never sent again, even when its queued job runs.
func TestWithdrawDeletesSentAndCancelsQueued(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	fail := true
	var mu sync.Mutex
	h.chans[1].fail = func(channels.Delivery) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return channels.RateLimited(errors.New("slow down"), time.Hour)
		}
		return nil
	}
	b := started(t, h, Options{})
	ctx := context.Background()
	if _, err := b.Publish(ctx, samplePost("md:wrong")); err != nil {
		t.Fatal(err)
	}
	h.waitFor("mastodon sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:wrong", Reason: "named the wrong person", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	c := waitCorrection(t, h, "md:wrong", rev)
	if c.State != store.CorrectionDone || c.Note != "named the wrong person" {
		t.Fatalf("withdrawal: %+v", c)
	}
	parts, _ := h.store.Parts(ctx, "md:wrong", "mastodon")
	if n := h.chans[0].net().deleted[parts[0].RemoteID]; n != 1 {
		t.Errorf("the toot was deleted %d times", n)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	// The rate-limited job runs again: it must not send.
	id := jobID(t, h, "crier.deliver", "discord")
	if _, err := b.river.JobRetry(ctx, id); err != nil {
		t.Fatal(err)
	}
	if !testnet.Poll(30*time.Second, func() bool {
		j, err := b.river.JobGet(ctx, id)
		return err == nil && j.State == "completed"
	}) {
		t.Fatal("the retried delivery job did not complete")
	}
	if n := h.chans[1].count("md:wrong"); n != 0 {
		t.Errorf("discord got the withdrawn post %d times", n)
	}
	if d, _ := h.store.Delivery(ctx, "md:wrong", "discord"); d.State != store.DeliveryWithdrawn {
		t.Errorf("discord's delivery is %s", d.State)
	}
	if sp, _ := h.store.Post(ctx, "md:wrong"); sp.State != store.PostWithdrawn {
		t.Errorf("the post is %s", sp.State)
	}
	if queued, err := b.Publish(ctx, samplePost("md:wrong")); err != nil || len(queued) != 0 {
		t.Errorf("publishing a withdrawn post again queued %v (%v)", queued, err)
	}
}

func jobID(t *testing.T, h *testBundle, kind, queue string) int64 {
	t.Helper()
	var id int64
	if err := h.store.DB().QueryRow(`SELECT id FROM river_job WHERE kind = $1 AND queue = $2`, kind, queue).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// A delivery sent before message ids were kept (no parts in the ledger)
// cannot be corrected: the history says so in plain words.
func TestCorrectionWithoutRemoteIDSaysSo(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:old", 1)
	if _, err := h.store.DB().Exec(`DELETE FROM delivery_parts`); err != nil {
		t.Fatal(err)
	}
	fixed := samplePost("md:old")
	fixed.Title = "Too late"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:old", Corrected: fixed, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	c := waitCorrection(t, h, "md:old", rev)
	if c.State != store.CorrectionFailed || !strings.Contains(c.Results[0].LastError, "no message of this post is known on the network") {
		t.Fatalf("history: %+v", c.Results)
	}
}

// A process killed mid-correction (after the network edited, before the
// history said so) leaves its job running; River rescues it and the retry
// edits nothing twice.
func TestKilledMidCorrectionIsRescuedAndEditsOnce(t *testing.T) {
	// Not parallel, as TestKilledMidDeliveryIsRescuedAndSentOnce.
	h := setup(t, "mastodon")
	ctx := context.Background()
	b := started(t, h, Options{})
	publishedSample(t, h, b, "md:kill", 1)
	b.Stop(ctx)
	fixed := samplePost("md:kill")
	fixed.Title = "Corrected once"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:kill", Corrected: fixed, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	// What the killed process did and left: the network has the edit; the
	// job is running, the history still queued.
	parts, _ := h.store.Parts(ctx, "md:kill", "mastodon")
	n := h.chans[0].net()
	n.text[parts[0].RemoteID], n.edits[parts[0].RemoteID] = fixed.Title, 1
	if _, err := h.store.DB().Exec(`UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 hour'), attempted_by = '["dead-process"]' WHERE kind = 'crier.correction'`); err != nil {
		t.Fatal(err)
	}
	h.reopen()
	started(t, h, Options{RescueAfter: time.Second, Delivery: config.Delivery{Timeout: time.Second, MaxAttempts: 3, Workers: 2}})
	c := waitCorrection(t, h, "md:kill", rev)
	if c.State != store.CorrectionDone || c.Results[0].Parts[0].Outcome != channels.OutcomeUnchanged {
		t.Fatalf("after the rescue: %+v", c.Results)
	}
	if _, edits := h.chans[0].sentText(t, h, "md:kill"); edits != 1 {
		t.Errorf("%d edits, want 1", edits)
	}
	if n := countJobs(t, h, "crier.correction"); n != 1 {
		t.Errorf("%d correction jobs: the start-up re-queue must not add one beside the running job", n)
	}
}

// A feed item whose text changed on the website (same guid) is marked
// changed since published (corrections: ask), or corrected everywhere at
// once (auto), and an unchanged poll after that does nothing more.
func TestFeedItemEditedAfterPublishing(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{config.CorrectionsAsk, config.CorrectionsAuto} {
		t.Run(policy, func(t *testing.T) {
			h := setup(t, "mastodon")
			path := filepath.Join(t.TempDir(), "feed.xml")
			write := func(body string) {
				if err := os.WriteFile(path, []byte(rss(rssItem{"a", "Vigil", body, d1})), 0o644); err != nil {
					t.Fatal(err)
				}
				mt := time.Now().Add(time.Duration(len(body)) * time.Second)
				os.Chtimes(path, mt, mt)
			}
			write("The vigil starts at seven.")
			f := config.Feed{Name: "site", URL: path, Schedule: "@every 5m", PublishNewest: 1, Corrections: policy}
			b := started(t, h, Options{Feeds: []config.Feed{f}})
			ctx := context.Background()
			if err := b.PollFeed(ctx, f); err != nil {
				t.Fatal(err)
			}
			h.waitFor("sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
			write("The vigil starts at eight.")
			for range 2 {
				if err := b.PollFeed(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			sp := onlyPost(t, h)
			changed, now, err := Changed(ctx, h.store, b.opts.Posts, sp)
			if err != nil {
				t.Fatal(err)
			}
			hist, _ := h.store.Corrections(ctx, sp.Post.ID)
			switch policy {
			case config.CorrectionsAsk:
				if !changed || !strings.Contains(now.Body, "eight") || len(hist) != 0 {
					t.Fatalf("ask: changed=%v now=%q, %d corrections", changed, now.Body, len(hist))
				}
			case config.CorrectionsAuto:
				if changed || len(hist) != 1 || hist[0].By != "feed site" {
					t.Fatalf("auto: changed=%v, corrections %+v", changed, hist)
				}
				if c := waitCorrection(t, h, sp.Post.ID, 1); c.State != store.CorrectionDone {
					t.Fatalf("auto correction: %+v", c)
				}
			}
		})
	}
}

func onlyPost(t *testing.T, h *testBundle) store.StoredPost {
	t.Helper()
	ps, err := h.store.RecentPosts(context.Background(), 10)
	if err != nil || len(ps) != 1 {
		t.Fatalf("posts: %d (%v)", len(ps), err)
	}
	return ps[0]
}

// A Markdown post whose file changed after publishing is marked changed;
// once corrected from the file, it no longer is.
func TestMarkdownPostChangedSincePublished(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	dir := t.TempDir()
	file := filepath.Join(dir, "vigil.md")
	os.WriteFile(file, []byte("---\ntitle: Vigil at seven\n---\nCome.\n"), 0o644)
	b := started(t, h, Options{MarkdownDir: dir})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitFor("sent", func(c map[store.DeliveryState]int) bool { return c[store.DeliverySent] == 1 })
	sp := onlyPost(t, h)
	if changed, _, err := Changed(ctx, h.store, b.opts.Posts, sp); changed || err != nil {
		t.Fatalf("unchanged file reported changed=%v (%v)", changed, err)
	}
	os.WriteFile(file, []byte("---\ntitle: Vigil at eight\n---\nCome.\n"), 0o644)
	changed, now, err := Changed(ctx, h.store, b.opts.Posts, sp)
	if !changed || now.Title != "Vigil at eight" || err != nil {
		t.Fatalf("changed file: changed=%v title=%q (%v)", changed, now.Title, err)
	}
	rev, err := b.Correct(ctx, CorrectRequest{PostID: sp.Post.ID, Corrected: now, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, sp.Post.ID, rev)
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	sp = onlyPost(t, h)
	if changed, _, _ := Changed(ctx, h.store, b.opts.Posts, sp); changed || sp.Post.Title != "Vigil at eight" {
		t.Errorf("after the correction: changed=%v, stored %q", changed, sp.Post.Title)
	}
}

// A scheduled post withdrawn before its time is never published, though
// its file stays in the folder.
func TestWithdrawnScheduledPostIsNeverPublished(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "later.md"), []byte("---\ntitle: Later\npublish_at: 2026-11-27T10:00:00Z\n---\nSoon.\n"), 0o644)
	b := h.bot(Options{MarkdownDir: dir})
	ctx := context.Background()
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:later", Reason: "cancelled", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := h.store.Correction(ctx, "md:later", rev); c.State != store.CorrectionDone {
		t.Errorf("the withdrawal of a post sent nowhere is %q", c.State)
	}
	h.clock.Set(time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC))
	if err := b.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	if sp, _ := h.store.Post(ctx, "md:later"); sp.State != store.PostWithdrawn {
		t.Errorf("the withdrawn post is %s once due", sp.State)
	}
	if ds, _ := h.store.Deliveries(ctx, "md:later"); len(ds) != 0 {
		t.Errorf("deliveries queued for a withdrawn post: %+v", ds)
	}
}

// After a correction that deleted the post and posted it anew, the new
// post is the delivery's: a withdrawal deletes it.
func TestRepostedCorrectionBecomesTheDelivery(t *testing.T) {
	t.Parallel()
	h := setup(t, "bluesky")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:repost", 1)
	old, _ := h.store.Parts(ctx, "md:repost", "bluesky")
	fixed := samplePost("md:repost")
	fixed.Title = "Posted again"
	rev, err := b.Correct(ctx, CorrectRequest{PostID: "md:repost", Corrected: fixed, By: "ana",
		Styles: map[string]channels.CorrectionStyle{"bluesky": channels.CorrectByRepost}})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:repost", rev)
	now, _ := h.store.Parts(ctx, "md:repost", "bluesky")
	if len(now) != 1 || now[0].RemoteID == old[0].RemoteID {
		t.Fatalf("the delivery's parts after a repost: %+v (before %+v)", now, old)
	}
	rev, err = b.Withdraw(ctx, WithdrawRequest{PostID: "md:repost", By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:repost", rev)
	if n := h.chans[0].net().deleted[now[0].RemoteID]; n != 1 {
		t.Errorf("the reposted post was deleted %d times", n)
	}
}

// After a withdrawal from one channel, a correction goes to the others;
// naming the withdrawn one is refused.
func TestCorrectionSkipsChannelsWithdrawnFrom(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon", "discord")
	b := started(t, h, Options{})
	ctx := context.Background()
	publishedSample(t, h, b, "md:partial", 2)
	rev, err := b.Withdraw(ctx, WithdrawRequest{PostID: "md:partial", Channels: []string{"discord"}, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	waitCorrection(t, h, "md:partial", rev)
	if sp, _ := h.store.Post(ctx, "md:partial"); sp.State != store.PostPublished {
		t.Errorf("withdrawn from one channel, the post is %s", sp.State)
	}
	fixed := samplePost("md:partial")
	fixed.Title = "Corrected where it still is"
	if _, err := b.Correct(ctx, CorrectRequest{PostID: "md:partial", Corrected: fixed, Channels: []string{"discord"}, By: "ana"}); err == nil || !strings.Contains(err.Error(), "withdrawn from discord") {
		t.Errorf("correcting on the withdrawn channel: %v", err)
	}
	rev, err = b.Correct(ctx, CorrectRequest{PostID: "md:partial", Corrected: fixed, By: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	if c := waitCorrection(t, h, "md:partial", rev); c.State != store.CorrectionDone || len(c.Results) != 1 || c.Results[0].Channel != "mastodon" {
		t.Errorf("correction: %+v", c)
	}
}
