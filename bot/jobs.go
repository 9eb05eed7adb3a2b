package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/schedules"
)

// DeliverArgs is the job that delivers one post to one channel.
type DeliverArgs struct {
	PostID  string `json:"post_id"`
	Channel string `json:"channel"`
}

// Kind names the job in River's table.
func (DeliverArgs) Kind() string { return "crier.deliver" }

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	b *Bot
}

func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.b.opts.Delivery.Timeout
}

// NextRetry retries a rescued job (its process died mid-attempt) at once:
// the rescue already waited out the attempt, and backing off on top would
// break the resume bound (ResumeBound). Other failures back off as usual.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	if job.AttemptedAt != nil && time.Since(*job.AttemptedAt) >= w.b.rescueAfter {
		return time.Now()
	}
	return time.Time{}
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.b.deliver(ctx, attempt{DeliverArgs: job.Args, number: job.Attempt, max: job.MaxAttempts, queuedAt: job.CreatedAt})
}

// attempt is one run of one delivery job.
type attempt struct {
	DeliverArgs
	number, max int
	queuedAt    time.Time
	start       time.Time
	// unconfirmed is true when an earlier attempt may have sent without
	// our knowing: this one must check the remote side first.
	unconfirmed bool
	// blind says why the channel cannot check (a channels.BlindSender);
	// "" when it can.
	blind string
}

// deliver runs one attempt of one delivery and records its outcome in the
// ledger. The returned error tells River what to do next: nil (done),
// JobCancel (permanent), JobSnooze (rate limited) or a plain error (retry
// with backoff).
func (b *Bot) deliver(ctx context.Context, a attempt) error {
	a.start = b.now()
	log := b.log.With("post", a.PostID, "channel", a.Channel, "attempt", a.number)
	ch, ok, err := b.channel(ctx, a.Channel)
	if err != nil {
		// The channel's connection could not be read or built: retried.
		return b.finish(ctx, log, a, channels.Receipt{}, channels.Temporary(err))
	}
	if !ok {
		err := fmt.Errorf("delivering %s: %q: %w", a.PostID, a.Channel, errNoChannel)
		if b.store.FinishAttempt(context.WithoutCancel(ctx), a.PostID, a.Channel, store.DeliveryFailed, channels.Receipt{}, err.Error(), channels.KindPermanent.String(), false, a.start) == nil {
			b.failed(ctx, a, err)
		}
		return river.JobCancel(err)
	}
	sp, err := b.store.Post(ctx, a.PostID)
	if err != nil {
		return fmt.Errorf("delivering %s to %s: %w", a.PostID, a.Channel, err)
	}
	if sp.Post.Example && !ch.Outbox {
		// Queued while this channel still rendered to the outbox, and
		// credentials came since: an example never leaves the outbox.
		return b.finish(ctx, log, a, channels.Receipt{}, channels.Permanent(errors.New("an example post (example: true) is never sent for real; remove example: true to send it")))
	}
	before, err := b.store.StartAttempt(ctx, a.PostID, a.Channel, a.start)
	if err != nil {
		return err
	}
	if before.State == store.DeliverySent || before.State == store.DeliverySkipped {
		log.Info("already delivered or skipped; nothing to do", "state", before.State)
		return nil
	}
	if before.State == store.DeliveryWithdrawn || sp.State == store.PostWithdrawn {
		// Withdrawn by an organiser while queued: never sent.
		log.Info("the post was withdrawn; not sending it")
		return b.store.SetDeliveryWithdrawn(context.WithoutCancel(ctx), a.PostID, a.Channel, b.now())
	}
	// A row left "sending" means an earlier attempt died mid-send.
	a.unconfirmed = before.Unconfirmed || before.State == store.DeliveryUnknown || before.State == store.DeliverySending
	if bs, ok := ch.Sender.(channels.BlindSender); ok && !ch.Outbox {
		a.blind = bs.CannotReadBack()
	}
	if a.unconfirmed && a.blind != "" {
		// Sending again could post it twice, and the network cannot be
		// asked: the delivery waits for an organiser.
		return b.finish(ctx, log, a, channels.Receipt{}, channels.Ambiguous(errors.New("an earlier attempt may have sent it")))
	}
	d := channels.Delivery{
		PostID:          a.PostID,
		Channel:         a.Channel,
		Attempt:         a.number,
		PreviousUnknown: a.unconfirmed,
		Ledger:          b.store.Ledger(a.PostID, a.Channel, b.now),
	}
	p := sp.Post
	if b.opts.ResolveMedia != nil {
		if p, err = b.opts.ResolveMedia(p); err != nil {
			return b.finish(ctx, log, a, channels.Receipt{}, channels.Permanent(fmt.Errorf("the image: %w", err)))
		}
	}
	payload, err := ch.Formatter.Format(p)
	if channels.IsSkip(err) {
		// The note is the organiser's to read as it is.
		return b.finish(ctx, log, a, channels.Receipt{}, err)
	}
	if err != nil {
		return b.finish(ctx, log, a, channels.Receipt{}, channels.Permanent(fmt.Errorf("formatting: %w", err)))
	}
	for _, warn := range payload.Warnings {
		log.Warn("payload warning", "warning", warn)
	}
	receipt, err := ch.Sender.Send(ctx, d, payload)
	return b.finish(ctx, log, a, receipt, err)
}

func (b *Bot) finish(ctx context.Context, log *slog.Logger, a attempt, r channels.Receipt, sendErr error) error {
	// The outcome is recorded even when the job's context has ended: the
	// remote side may already have the message.
	ctx = context.WithoutCancel(ctx)
	if b.opts.OnAttempt != nil {
		b.opts.OnAttempt(ctx, a.Channel, sendErr)
	}
	now := b.now()
	b.opts.Metrics.deliveryDuration.WithLabelValues(a.Channel).Observe(now.Sub(a.start).Seconds())
	if sendErr == nil {
		if err := b.store.FinishAttempt(ctx, a.PostID, a.Channel, store.DeliverySent, r, "", "", false, now); err != nil {
			return err
		}
		b.opts.Metrics.deliveries.WithLabelValues(a.Channel, "sent").Inc()
		if !a.queuedAt.IsZero() {
			b.opts.Metrics.deliveryLatency.WithLabelValues(a.Channel).Observe(now.Sub(a.queuedAt).Seconds())
		}
		log.Info("delivered", "remote_id", r.RemoteID, "remote_url", r.RemoteURL)
		// As the channel stands now: one connected since start is not the
		// outbox any more, and its reach is read.
		if ch, _, _ := b.channel(ctx, a.Channel); b.opts.OnDelivered != nil && !ch.Outbox {
			b.opts.OnDelivered(ctx, a.PostID, a.Channel)
		}
		b.sentAll(ctx, log, a.PostID)
		for _, note := range r.Notes {
			log.Warn("delivered with something left out", "note", note)
		}
		return nil
	}
	kind, wait := channels.Classify(sendErr)
	var classified *channels.Error
	if !errors.As(sendErr, &classified) && (errors.Is(sendErr, context.DeadlineExceeded) || errors.Is(sendErr, context.Canceled)) {
		// An unclassified error from an ended context: the request may have
		// been written. A sender that classified it knows better.
		kind = channels.KindAmbiguous
	}
	msg, errKind := fmt.Sprintf("%s: %v", kind, sendErr), kind.String()
	state := store.DeliveryPending
	switch {
	case channels.IsSkip(sendErr):
		// The channel declined the post by design (Instagram, no picture,
		// cards off): nothing went out, nothing to retry, nobody to alarm.
		// The note says why, in the organiser's words.
		state, msg, errKind = store.DeliverySkipped, sendErr.Error(), ""
	case kind == channels.KindPermanent:
		state = store.DeliveryFailed
	case kind == channels.KindAmbiguous && a.blind != "":
		// No retry can find out whether it went out: an organiser looks
		// and says (It went out / Send again: store.ConfirmSent, store.ResendTx).
		state = store.DeliveryFailed
		msg = fmt.Sprintf("unknown: check the channel: %v; %s", sendErr, a.blind)
	case channels.IsUnverifiable(sendErr):
		// The sender tried to find out and could not: the same wait.
		state = store.DeliveryFailed
		msg = fmt.Sprintf("unknown: check the channel: %v", sendErr)
	case kind == channels.KindAmbiguous:
		state = store.DeliveryUnknown
	case a.number >= a.max && kind != channels.KindRateLimited:
		state = store.DeliveryFailed
		msg = fmt.Sprintf("gave up after %d attempts: %s", a.number, msg)
	}
	unconfirmed := a.unconfirmed || kind == channels.KindAmbiguous
	if err := b.store.FinishAttempt(ctx, a.PostID, a.Channel, state, r, msg, errKind, unconfirmed, now); err != nil {
		return err
	}
	if state == store.DeliverySkipped {
		b.opts.Metrics.deliveries.WithLabelValues(a.Channel, string(store.DeliverySkipped)).Inc()
		log.Info("delivery skipped", "note", msg)
		b.sentAll(ctx, log, a.PostID)
		return nil
	}
	b.opts.Metrics.deliveries.WithLabelValues(a.Channel, kind.String()).Inc()
	if state == store.DeliveryFailed {
		b.failed(ctx, a, sendErr)
	}
	if kind == channels.KindRateLimited {
		// Not a failure: the channel asked to go on later (a rate limit,
		// a long newsletter handed on to its next run, other replicas
		// sending its last recipients), and the retry uses no attempt.
		log.Info("delivery continues later", "in", retryWait(wait), "why", sendErr)
	} else {
		log.Warn("delivery attempt failed", "kind", kind.String(), "state", state, "err", sendErr)
	}
	switch {
	case kind == channels.KindPermanent:
		return river.JobCancel(sendErr)
	case state == store.DeliveryFailed && kind == channels.KindAmbiguous:
		// Waiting for an organiser: a retry would send blindly.
		return river.JobCancel(sendErr)
	case kind == channels.KindRateLimited:
		return river.JobSnooze(retryWait(wait))
	default:
		return sendErr
	}
}

// failed tells Options.OnFailed that a delivery failed for good.
func (b *Bot) failed(ctx context.Context, a attempt, err error) {
	if b.opts.OnFailed != nil {
		b.opts.OnFailed(context.WithoutCancel(ctx), a.PostID, a.Channel, err)
	}
}

// sentAll tells Options.OnSent when every delivery of the post is sent.
func (b *Bot) sentAll(ctx context.Context, log *slog.Logger, postID string) {
	if b.opts.OnSent == nil {
		return
	}
	ds, err := b.store.Deliveries(ctx, postID)
	if err != nil {
		log.Warn("reading the post's deliveries to tell whether all are sent", "err", err)
		return
	}
	for _, d := range ds {
		if d.State != store.DeliverySent && d.State != store.DeliverySkipped {
			return
		}
	}
	b.opts.OnSent(ctx, postID)
}

// retryWait is how long a rate-limited job sleeps when the server named no
// time.
func retryWait(wait time.Duration) time.Duration {
	if wait <= 0 {
		return time.Minute
	}
	return wait
}

// Names of the periodic jobs, as recorded in schedule_runs.
const (
	publishDueName = "publish_due"
	digestName     = "digest"
	// digestUntilName holds the end of the window of a digest in progress.
	digestUntilName = "digest:until"
)

func feedScheduleName(feed string) string { return "feed:" + feed }

// PollFeedArgs polls one feed.
type PollFeedArgs struct {
	Feed string `json:"feed"`
}

// Kind names the job in River's table.
func (PollFeedArgs) Kind() string { return "crier.poll_feed" }

type pollFeedWorker struct {
	river.WorkerDefaults[PollFeedArgs]
	b *Bot
}

func (w *pollFeedWorker) Work(ctx context.Context, job *river.Job[PollFeedArgs]) error {
	return w.b.runScheduled(ctx, feedScheduleName(job.Args.Feed), true, func(ctx context.Context) error {
		for _, f := range w.b.opts.Feeds {
			if f.Name == job.Args.Feed {
				return w.b.PollFeed(ctx, f)
			}
		}
		return river.JobCancel(fmt.Errorf("feed %q is no longer in the config", job.Args.Feed))
	})
}

// PublishDueArgs scans the Markdown folder and publishes due posts.
type PublishDueArgs struct{}

// Kind names the job in River's table.
func (PublishDueArgs) Kind() string { return "crier.publish_due" }

type publishDueWorker struct {
	river.WorkerDefaults[PublishDueArgs]
	b *Bot
}

func (w *publishDueWorker) Work(ctx context.Context, job *river.Job[PublishDueArgs]) error {
	return w.b.runScheduled(ctx, publishDueName, true, w.b.PublishDue)
}

// DigestArgs sends the newsletter digest.
type DigestArgs struct{}

// Kind names the job in River's table.
func (DigestArgs) Kind() string { return "crier.digest" }

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	b *Bot
}

// Timeout gives a digest the same time as a delivery; a long send returns
// before it and resumes from its ledger.
func (w *digestWorker) Timeout(*river.Job[DigestArgs]) time.Duration {
	return w.b.opts.Delivery.Timeout
}

func (w *digestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	// The digest records its own run: the end of its window, not the
	// time this (perhaps resumed) run started.
	err := w.b.runScheduled(ctx, digestName, false, w.b.Digest)
	// A long digest that hit the sender's time or rate cap resumes later
	// from its send ledger; that is not a failed attempt.
	if kind, wait := channels.Classify(err); err != nil && kind == channels.KindRateLimited {
		return river.JobSnooze(retryWait(wait))
	}
	return err
}

// runScheduled runs a periodic job's body, recovering a panic into an error
// (so River retries and the daemon lives on) and, with record, recording
// the run.
func (b *Bot) runScheduled(ctx context.Context, name string, record bool, body func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error("scheduled job panicked; recovered", "schedule", name, "panic", fmt.Sprint(r))
			err = fmt.Errorf("scheduled job %s panicked: %v", name, r)
		}
	}()
	start := b.now()
	b.opts.Metrics.scheduleRuns.WithLabelValues(name).Inc()
	if err := body(ctx); err != nil {
		return err
	}
	b.opts.Metrics.lastTick.WithLabelValues(name).Set(float64(b.now().Unix()))
	if !record {
		return nil
	}
	return b.store.SetLastRun(ctx, name, start)
}

// scheduledJobs lists every periodic job the config asks for. A spec
// without its own CRON_TZ runs in the campaign's time zone.
func (b *Bot) scheduledJobs() []schedules.Job {
	zoned := func(spec string) string { return schedules.InZone(spec, b.opts.Location) }
	jobs := []schedules.Job{{Name: publishDueName, Spec: zoned(b.opts.Schedules.PublishDue), Args: PublishDueArgs{}, RunOnStart: true}}
	for _, f := range b.opts.Feeds {
		jobs = append(jobs, schedules.Job{Name: feedScheduleName(f.Name), Spec: zoned(f.Schedule), Args: PollFeedArgs{Feed: f.Name}, RunOnStart: true})
	}
	if b.opts.Schedules.Digest != "" {
		jobs = append(jobs, schedules.Job{Name: digestName, Spec: zoned(b.opts.Schedules.Digest), Args: DigestArgs{}})
	}
	return jobs
}

// NextDigest is when the digest schedule fires next after now, in the
// campaign's time zone; false when there is no digest schedule.
func (b *Bot) NextDigest(now time.Time) (time.Time, bool) {
	if b.opts.Schedules.Digest == "" {
		return time.Time{}, false
	}
	s, err := schedules.Parse(schedules.InZone(b.opts.Schedules.Digest, b.opts.Location))
	if err != nil {
		return time.Time{}, false
	}
	return s.Next(now).In(b.opts.Location), true
}

func (b *Bot) periodicJobs() ([]*river.PeriodicJob, error) {
	return schedules.Periodic(b.scheduledJobs())
}

// catchUp makes up, once, the runs missed while Crier was down.
func (b *Bot) catchUp(ctx context.Context) error {
	now := b.now()
	for _, job := range b.scheduledJobs() {
		if job.RunOnStart {
			continue // runs at start anyway
		}
		last, ok, err := b.store.LastRun(ctx, job.Name)
		if err != nil {
			return err
		}
		if !ok {
			// Never ran: start the clock now so the next start can tell
			// what it missed.
			if err := b.store.SetLastRun(ctx, job.Name, now); err != nil {
				return err
			}
			continue
		}
		dec, err := schedules.CatchUp(job.Spec, last, now, b.opts.Schedules.MaxLateness)
		if err != nil {
			return err
		}
		switch {
		case dec.Run:
			b.log.Info("catching up a run missed while down", "schedule", job.Name, "missed", dec.Missed)
			if _, err := b.river.Insert(ctx, job.Args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWhileLive()}}); err != nil {
				return fmt.Errorf("queueing catch-up run of %s: %w", job.Name, err)
			}
		case dec.TooLate:
			b.log.Warn("skipping a run missed while down: older than schedules.max_lateness",
				"schedule", job.Name, "missed", dec.Missed, "max_lateness", b.opts.Schedules.MaxLateness)
			if err := b.store.SetLastRun(ctx, job.Name, now); err != nil {
				return err
			}
		}
	}
	return nil
}
