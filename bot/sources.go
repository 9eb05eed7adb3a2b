package bot

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
)

// PollFeed fetches one feed (conditionally) and publishes what is new. The
// first poll of a feed only records its back catalogue, publishing the
// newest PublishNewest items.
func (b *Bot) PollFeed(ctx context.Context, f config.Feed) error {
	log := b.log.With("feed", f.Name)
	state, err := b.store.Feed(ctx, f.Name)
	if err != nil {
		return err
	}
	if state.URL != "" && state.URL != f.URL {
		// A new address is a new document: don't trust the old validators,
		// and treat it as a new feed. An organiser who points the sample
		// feed's entry at the campaign's own site must not flood every
		// channel with that site's back catalogue.
		state.ETag, state.LastModified = "", ""
		state.Seeded = false
		log.Info("feed address changed: its first poll records the back catalogue again", "from", state.URL, "to", f.URL)
	}
	state.URL = f.URL
	now := b.now()
	res, err := b.opts.Fetcher.Fetch(ctx, f.Name, f.URL, feed.Conditional{ETag: state.ETag, LastModified: state.LastModified})
	state.LastPolled.Time, state.LastPolled.Valid = now.UTC(), true
	if err != nil {
		b.opts.Metrics.feedPolls.WithLabelValues(f.Name, "error").Inc()
		state.LastError = err.Error()
		if serr := b.store.SaveFeed(ctx, state); serr != nil {
			return errors.Join(err, serr)
		}
		log.Warn("feed poll failed; will try again on schedule", "err", err)
		// The next scheduled poll is the retry; an error here would make
		// River retry on top of the schedule.
		return nil
	}
	state.LastError = ""
	if res.NotModified {
		b.opts.Metrics.feedPolls.WithLabelValues(f.Name, "not_modified").Inc()
		return b.store.SaveFeed(ctx, state)
	}
	state.ETag, state.LastModified = res.Conditional.ETag, res.Conditional.LastModified
	for _, w := range res.Warnings {
		log.Warn("feed warning", "warning", w)
	}

	published := 0
	for i, item := range res.Items {
		p := WithFeedDefaults(item.Post, f)
		if !state.Seeded && i >= f.PublishNewest {
			if err := b.recordSeen(ctx, p); err != nil {
				return err
			}
			continue
		}
		didPublish, err := b.considerFeedItem(ctx, f, p)
		if err != nil {
			return err
		}
		if didPublish {
			published++
		}
	}
	if !state.Seeded {
		log.Info("first poll: recorded the back catalogue without publishing it",
			"items", len(res.Items), "published_newest", min(f.PublishNewest, len(res.Items)))
	}
	state.Seeded = true
	result := "unchanged"
	if published > 0 {
		result = "new"
	}
	b.opts.Metrics.feedPolls.WithLabelValues(f.Name, result).Inc()
	return b.store.SaveFeed(ctx, state)
}

func (b *Bot) recordSeen(ctx context.Context, p post.Post) error {
	if _, err := b.store.Post(ctx, p.ID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return b.store.SavePost(ctx, p, store.PostSeen, b.now())
}

// considerFeedItem publishes a new item, and handles an edited one by the
// feed's policy. It reports whether it published.
func (b *Bot) considerFeedItem(ctx context.Context, f config.Feed, p post.Post) (bool, error) {
	existing, err := b.store.Post(ctx, p.ID)
	switch {
	case err == nil:
		if existing.Post.Source.Hash == p.Source.Hash || existing.State != store.PostPublished {
			return false, nil
		}
		if f.Corrections == config.CorrectionsAuto {
			return false, b.correctFeedItem(ctx, f, p)
		}
		// Marked "changed since published" for an organiser to correct.
		if err := b.store.SetChanged(ctx, p.ID, &p); err != nil {
			return false, err
		}
		if f.OnEdit != "update" {
			b.log.Info("feed item edited after publishing; marked changed since published (sources.feeds[].corrections: ask)", "feed", f.Name, "post", p.ID)
			existing.Post.Source.Hash = p.Source.Hash
			return false, b.store.SavePost(ctx, existing.Post, existing.State, b.now())
		}
		note := p
		note.ID = fmt.Sprintf("%s:update:%s", p.ID, p.Source.Hash[:min(8, len(p.Source.Hash))])
		note.Update = true
		note.Title = "Update: " + p.Title
		// The note goes out before the new hash is recorded: if publishing
		// fails, the next poll sees the edit again and retries.
		if _, err := b.Publish(ctx, note); err != nil {
			return false, err
		}
		existing.Post.Source.Hash = p.Source.Hash
		return true, b.store.SavePost(ctx, existing.Post, existing.State, b.now())
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	if p.Example && b.SendsForReal() {
		b.log.Info("example feed item not sent: a channel sends for real (sources.feeds[].example: true)", "feed", f.Name, "post", p.ID)
		return false, b.store.SavePost(ctx, p, store.PostExample, b.now())
	}
	// A new GUID (or a new date) on content we already have is not news.
	dup, err := b.store.HasSourceHash(ctx, "feed", f.Name, p.Source.Hash)
	if err != nil {
		return false, err
	}
	if dup {
		b.log.Info("feed item has a new id but content already seen; not publishing it again", "feed", f.Name, "post", p.ID)
		return false, b.store.SavePost(ctx, p, store.PostSeen, b.now())
	}
	_, err = b.Publish(ctx, p)
	if errors.As(err, new(*DuplicateError)) {
		return false, nil
	}
	return err == nil, err
}

// PublishDue scans the Markdown folder, records drafts and scheduled posts,
// and publishes every post whose time has come. Only what is in the folder
// now is published: a scheduled post whose file was removed or renamed is
// withdrawn, and one whose file no longer parses waits until it is fixed. A
// broken file is logged with its file and line and never stops the others.
func (b *Bot) PublishDue(ctx context.Context) error {
	if err := b.publishDueStored(ctx); err != nil {
		return err
	}
	if b.opts.MarkdownDir == "" {
		return nil
	}
	now := b.now()
	posts, errs := b.opts.Posts.LoadDir(b.opts.MarkdownDir)
	if err := b.reportPostProblems(ctx, errs, now); err != nil {
		return err
	}
	seen := make(map[string]bool, len(posts))
	for _, p := range posts {
		seen[p.ID] = true
		if err := b.considerMarkdownPost(ctx, p, now); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		// A file that does not parse may be one of the waiting posts:
		// withdraw nothing until the folder reads cleanly.
		return nil
	}
	waiting, err := b.store.Pending(ctx, markdown.Kind)
	if err != nil {
		return err
	}
	for _, sp := range waiting {
		if seen[sp.Post.ID] || !b.inFolder(sp.Post) {
			// A post queued with `crier publish` from another folder is
			// not the folder's to withdraw.
			continue
		}
		b.log.Warn("a waiting post's file is gone from the folder; withdrawn, it will not be sent", "post", sp.Post.ID, "file", sp.Post.Source.Ref)
		if err := b.store.SavePost(ctx, sp.Post, store.PostWithdrawn, now); err != nil {
			return err
		}
	}
	return nil
}

// reportPostProblems logs each unreadable post file once per change (not
// at every scan) and records it for crier status and the admin status; a
// file that reads again, or is gone, is logged as fixed.
func (b *Bot) reportPostProblems(ctx context.Context, errs []error, now time.Time) error {
	current := map[string]string{}
	for _, err := range errs {
		file := b.opts.MarkdownDir
		var fe *markdown.FileError
		if errors.As(err, &fe) {
			file = fe.File
		}
		if prev, ok := current[file]; ok {
			current[file] = prev + "\n" + err.Error()
		} else {
			current[file] = err.Error()
		}
	}
	known, err := b.store.PostProblems(ctx)
	if err != nil {
		return err
	}
	before := map[string]string{}
	for _, p := range known {
		before[p.File] = p.Problem
		if _, still := current[p.File]; !still {
			b.log.Info("a post file that could not be read is fixed or gone", "file", p.File)
			if err := b.store.ClearPostProblem(ctx, p.File); err != nil {
				return err
			}
		}
	}
	for file, problem := range current {
		if before[file] == problem {
			continue // already reported; `crier status` keeps showing it
		}
		b.log.Error("skipping a post file that cannot be read until it is fixed", "file", file, "err", problem)
		if err := b.store.SetPostProblem(ctx, file, problem, now); err != nil {
			return err
		}
	}
	return nil
}

// inFolder reports whether a Markdown post's file is in the posts folder.
func (b *Bot) inFolder(p post.Post) bool {
	if b.opts.MarkdownDir == "" || p.Source.Kind != markdown.Kind {
		return false
	}
	dir, err1 := filepath.Abs(b.opts.MarkdownDir)
	src, err2 := filepath.Abs(p.Source.Name)
	if err1 != nil || err2 != nil {
		return true // cannot tell: keep the old behaviour
	}
	return dir == src
}

// StoredKinds are the sources whose posts live only in the store (the
// console): their scheduled posts are published from there when due.
var StoredKinds = []string{"console"}

// publishDueStored publishes the scheduled posts of store-only sources
// whose time has come, through the same path as every other post.
func (b *Bot) publishDueStored(ctx context.Context) error {
	now := b.now()
	for _, kind := range StoredKinds {
		due, err := b.store.DueScheduled(ctx, kind, now)
		if err != nil {
			return err
		}
		for _, sp := range due {
			p := sp.Post
			p.Draft = false
			// A duplicate of a story already published is recorded as such
			// by Publish, not sent: nothing more to do for it.
			if _, err := b.Publish(ctx, p); err != nil && !errors.As(err, new(*DuplicateError)) {
				return err
			}
		}
	}
	return nil
}

func (b *Bot) considerMarkdownPost(ctx context.Context, p post.Post, now time.Time) error {
	existing, err := b.store.Post(ctx, p.ID)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if found && (existing.State == store.PostPublished || existing.State == store.PostDuplicate) {
		return nil // an edit after publishing is not sent again; give the file a new id for that
	}
	if found && existing.State == store.PostWithdrawn {
		// Withdrawn by an organiser (not only its file removed): final.
		if withdrawn, err := b.store.HasWithdrawal(ctx, p.ID); err != nil || withdrawn {
			return err
		}
	}
	if p.PublishAt.IsZero() {
		// Zero means "as soon as seen": pin the time so it stays stable.
		if found && !existing.Post.PublishAt.IsZero() {
			p.PublishAt = existing.Post.PublishAt
		} else {
			p.PublishAt = now.UTC().Truncate(time.Second)
		}
	}
	// Examples are held back once a channel sends for real: they only ever
	// go to the outbox, however the config was edited.
	held := p.Example && b.SendsForReal()
	if p.Draft || held || !p.Due(now) {
		state := store.PostScheduled
		switch {
		case p.Draft:
			state = store.PostDraft
		case held:
			state = store.PostExample
		}
		if found && existing.State == state && existing.Post.Source.Hash == p.Source.Hash && existing.Post.PublishAt.Equal(p.PublishAt) {
			return nil // unchanged: leave its record (and crier status) alone
		}
		if state == store.PostExample {
			b.log.Info("example post not sent: a channel sends for real (remove example: true from a post you mean to send)", "post", p.ID, "file", p.Source.Ref)
		}
		return b.store.SavePost(ctx, p, state, now)
	}
	_, err = b.Publish(ctx, p)
	if errors.As(err, new(*DuplicateError)) {
		return nil
	}
	return err
}

// DigestWindow is one digest: the posts published after Since and up to
// Until, under a stable ID.
type DigestWindow struct {
	ID           string
	Since, Until time.Time
	Posts        []post.Post
	// Resuming is true when a digest with this window started and has not
	// finished (a paused send).
	Resuming bool
}

// PendingDigest reads, without changing anything, the digest the next run
// at now would send (crier preview --digest shows it).
func PendingDigest(ctx context.Context, st *store.Store, now time.Time) (DigestWindow, error) {
	var w DigestWindow
	last, ok, err := st.LastRun(ctx, digestName)
	if err != nil {
		return w, err
	}
	if !ok {
		last = now.Add(-7 * 24 * time.Hour)
	}
	until, resuming, err := st.LastRun(ctx, digestUntilName)
	if err != nil {
		return w, err
	}
	if !resuming {
		until = now.UTC()
	}
	stored, err := st.PublishedBetween(ctx, last, until)
	if err != nil {
		return w, err
	}
	w = DigestWindow{Since: last.UTC(), Until: until.UTC(), Resuming: resuming}
	for _, sp := range stored {
		w.Posts = append(w.Posts, sp.Post)
	}
	w.ID = "digest-" + w.Since.Format("20060102T150405Z") + "-" + w.Until.Format("20060102T150405Z")
	return w, nil
}

// DigestPosts are the posts of a digest that go to one channel: those the
// posts do not skip, and examples only when the channel renders to the
// outbox.
func DigestPosts(ch channels.Channel, posts []post.Post) []post.Post {
	var include []post.Post
	for _, p := range posts {
		if !p.Skips(ch.Name) && (!p.Example || ch.Outbox) {
			include = append(include, p)
		}
	}
	return include
}

// Digest sends the posts published since the last digest through every
// channel that sends digests (the newsletter), or renders it to the outbox
// when that channel has no credentials. Its window is fixed when a digest
// first starts, so a digest that pauses (a provider's daily cap) and
// resumes sends everyone the same posts under the same id; posts published
// meanwhile go in the next one.
func (b *Bot) Digest(ctx context.Context) error {
	w, err := PendingDigest(ctx, b.store, b.now())
	if err != nil {
		return err
	}
	if !w.Resuming {
		if err := b.store.SetLastRun(ctx, digestUntilName, w.Until); err != nil {
			return err
		}
	}
	w.Posts = b.resolveMedia(w.Posts)
	if len(w.Posts) == 0 {
		b.log.Info("no posts since the last digest; nothing to send", "since", w.Since.In(b.opts.Location).Format(time.RFC3339))
	}
	for _, name := range b.ChannelNames() {
		ch := b.channels[name]
		include := DigestPosts(ch, w.Posts)
		if len(include) == 0 {
			continue
		}
		r, sent, err := b.digestTo(ctx, ch, w.ID, include)
		if err != nil {
			return fmt.Errorf("sending digest %s to %s: %w", w.ID, name, err)
		}
		if sent {
			b.log.Info("digest sent", "channel", name, "digest", w.ID, "posts", len(include), "remote_id", r.RemoteID, "remote_url", r.RemoteURL)
		}
	}
	if err := b.store.SetLastRun(ctx, digestName, w.Until); err != nil {
		return err
	}
	return b.store.ForgetRun(ctx, digestUntilName)
}

// resolveMedia builds the addresses of the digest's uploaded images; a
// post whose image is refused goes without it (one picture must not hold
// back the digest), and the log says why.
func (b *Bot) resolveMedia(posts []post.Post) []post.Post {
	if b.opts.ResolveMedia == nil {
		return posts
	}
	out := make([]post.Post, len(posts))
	for i, p := range posts {
		r, err := b.opts.ResolveMedia(p)
		if err != nil {
			b.log.Warn("digest: the post's image is left out", "post", p.ID, "err", err)
			r = p
			r.Image = nil
		}
		out[i] = r
	}
	return out
}

// digestTo hands a digest to a channel's digest sender, or writes it to the
// outbox with the channel's digest formatter. sent is false for a channel
// that has no digest.
func (b *Bot) digestTo(ctx context.Context, ch channels.Channel, id string, posts []post.Post) (r channels.Receipt, sent bool, err error) {
	if dg, ok := ch.Sender.(channels.Digester); ok && !ch.Outbox {
		r, err = dg.Digest(ctx, id, posts)
		return r, true, err
	}
	df, ok := ch.Formatter.(channels.DigestFormatter)
	if !ok || !ch.Outbox {
		return r, false, nil
	}
	payload, err := df.FormatDigest(id, posts)
	if err != nil {
		return r, false, fmt.Errorf("formatting: %w", err)
	}
	r, err = ch.Sender.Send(ctx, channels.Delivery{PostID: id, Channel: ch.Name, Attempt: 1}, payload)
	return r, true, err
}

// WithFeedDefaults applies the feed's config (name, content warning,
// tags) to one of its items.
func WithFeedDefaults(p post.Post, f config.Feed) post.Post {
	p.Source.Name = f.Name
	p.Example = p.Example || f.Example
	if p.ContentWarning == "" {
		p.ContentWarning = f.ContentWarning
	}
	for _, t := range f.Tags {
		if !slices.ContainsFunc(p.Tags, func(have string) bool { return strings.EqualFold(have, t) }) {
			p.Tags = append(p.Tags, t)
		}
	}
	if p.Source.Hash == "" {
		p.Source.Hash = p.ContentHash()
	}
	return p
}

// correctFeedItem corrects a published feed item everywhere it went out
// to how the feed reads now (sources.feeds[].corrections: auto).
func (b *Bot) correctFeedItem(ctx context.Context, f config.Feed, p post.Post) error {
	rev, err := b.Correct(ctx, CorrectRequest{PostID: p.ID, Corrected: p, By: "feed " + f.Name})
	if errors.Is(err, errNothingChanged) {
		// Only what readers do not see changed: remember the new hash.
		sp, err := b.store.Post(ctx, p.ID)
		if err != nil {
			return err
		}
		sp.Post.Source.Hash = p.Source.Hash
		return b.store.SavePost(ctx, sp.Post, sp.State, b.now())
	}
	if err != nil {
		return fmt.Errorf("correcting feed item %s: %w", p.ID, err)
	}
	b.log.Info("feed item edited after publishing; correcting it everywhere (sources.feeds[].corrections: auto)", "feed", f.Name, "post", p.ID, "revision", rev)
	return nil
}
