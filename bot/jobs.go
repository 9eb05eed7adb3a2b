package bot

import (
	"context"
	"errors"
	"fmt"
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

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.b.deliver(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// deliver runs one attempt of one delivery and records its outcome in the
// ledger. The returned error tells River what to do next: nil (done),
// JobCancel (permanent), JobSnooze (rate limited) or a plain error (retry
// with backoff).
func (b *Bot) deliver(ctx context.Context, args DeliverArgs, attempt, maxAttempts int) error {
	start := b.now()
	log := b.log.With("post", args.PostID, "channel", args.Channel, "attempt", attempt)
	ch, ok := b.channels[args.Channel]
	if !ok {
		return river.JobCancel(fmt.Errorf("delivering %s: %q: %w", args.PostID, args.Channel, errNoChannel))
	}
	sp, err := b.store.Post(ctx, args.PostID)
	if err != nil {
		return fmt.Errorf("delivering %s to %s: %w", args.PostID, args.Channel, err)
	}
	before, err := b.store.StartAttempt(ctx, args.PostID, args.Channel, start)
	if err != nil {
		return err
	}
	if before.State == store.DeliverySent {
		log.Info("already delivered; nothing to do")
		return nil
	}
	d := channels.Delivery{
		PostID:  args.PostID,
		Channel: args.Channel,
		Attempt: attempt,
		// A row left "sending" means an earlier attempt died mid-send.
		PreviousUnknown: before.State == store.DeliveryUnknown || before.State == store.DeliverySending,
		Ledger:          b.store.Ledger(args.PostID, args.Channel, b.now),
	}
	payload, err := ch.Formatter.Format(sp.Post)
	if err != nil {
		return b.finish(ctx, log, args, start, channels.Receipt{}, channels.Permanent(fmt.Errorf("formatting: %w", err)), attempt, maxAttempts)
	}
	for _, warn := range payload.Warnings {
		log.Warn("payload warning", "warning", warn)
	}
	receipt, err := ch.Sender.Send(ctx, d, payload)
	return b.finish(ctx, log, args, start, receipt, err, attempt, maxAttempts)
}

func (b *Bot) finish(ctx context.Context, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}, args DeliverArgs, start time.Time, r channels.Receipt, sendErr error, attempt, maxAttempts int) error {
	// The outcome is recorded even when the job's context has ended: the
	// remote side may already have the message.
	ctx = context.WithoutCancel(ctx)
	now := b.now()
	b.opts.Metrics.deliveryDuration.WithLabelValues(args.Channel).Observe(now.Sub(start).Seconds())
	if sendErr == nil {
		if err := b.store.FinishAttempt(ctx, args.PostID, args.Channel, store.DeliverySent, r, "", now); err != nil {
			return err
		}
		b.opts.Metrics.deliveries.WithLabelValues(args.Channel, "sent").Inc()
		log.Info("delivered", "remote_id", r.RemoteID, "remote_url", r.RemoteURL)
		return nil
	}
	kind, wait := channels.Classify(sendErr)
	if errors.Is(sendErr, context.DeadlineExceeded) && kind == channels.KindTemporary {
		kind = channels.KindAmbiguous // the request may have been written before the deadline
	}
	msg := fmt.Sprintf("%s: %v", kind, sendErr)
	b.opts.Metrics.deliveries.WithLabelValues(args.Channel, kind.String()).Inc()
	state := store.DeliveryPending
	switch {
	case kind == channels.KindPermanent:
		state = store.DeliveryFailed
	case kind == channels.KindAmbiguous:
		state = store.DeliveryUnknown
	case attempt >= maxAttempts && kind != channels.KindRateLimited:
		state = store.DeliveryFailed
		msg = fmt.Sprintf("gave up after %d attempts: %s", attempt, msg)
	}
	if err := b.store.FinishAttempt(ctx, args.PostID, args.Channel, state, r, msg, now); err != nil {
		return err
	}
	log.Warn("delivery attempt failed", "kind", kind.String(), "state", state, "err", sendErr)
	switch kind {
	case channels.KindPermanent:
		return river.JobCancel(sendErr)
	case channels.KindRateLimited:
		if wait <= 0 {
			wait = time.Minute
		}
		return river.JobSnooze(wait)
	default:
		return sendErr
	}
}

// Names of the periodic jobs, as recorded in schedule_runs.
const (
	publishDueName = "publish_due"
	digestName     = "digest"
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
	return w.b.runScheduled(ctx, feedScheduleName(job.Args.Feed), func(ctx context.Context) error {
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
	return w.b.runScheduled(ctx, publishDueName, w.b.PublishDue)
}

// DigestArgs sends the newsletter digest.
type DigestArgs struct{}

// Kind names the job in River's table.
func (DigestArgs) Kind() string { return "crier.digest" }

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	b *Bot
}

func (w *digestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	return w.b.runScheduled(ctx, digestName, w.b.Digest)
}

// runScheduled runs a periodic job's body, recovering a panic into an error
// (so River retries and the daemon lives on) and recording the run.
func (b *Bot) runScheduled(ctx context.Context, name string, body func(context.Context) error) (err error) {
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
	return b.store.SetLastRun(ctx, name, start)
}

// scheduledJobs lists every periodic job the config asks for.
func (b *Bot) scheduledJobs() []schedules.Job {
	jobs := []schedules.Job{{Name: publishDueName, Spec: b.opts.Schedules.PublishDue, Args: PublishDueArgs{}, RunOnStart: true}}
	for _, f := range b.opts.Feeds {
		jobs = append(jobs, schedules.Job{Name: feedScheduleName(f.Name), Spec: f.Schedule, Args: PollFeedArgs{Feed: f.Name}, RunOnStart: true})
	}
	if b.opts.Schedules.Digest != "" {
		jobs = append(jobs, schedules.Job{Name: digestName, Spec: b.opts.Schedules.Digest, Args: DigestArgs{}})
	}
	return jobs
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
			if _, err := b.river.Insert(ctx, job.Args, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: uniqueWhileLive}}); err != nil {
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
