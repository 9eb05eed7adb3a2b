package reach

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// Queue is the job queue of the reads: its own, with one worker, so a read
// never takes a delivery's worker.
const Queue = "reach"

// Priority is the reads' River priority: the lowest (4), below every
// delivery (1).
const Priority = 4

// ReadArgs is the job that reads one delivery's reach at one step of the
// schedule.
type ReadArgs struct {
	PostID  string `json:"post_id"`
	Channel string `json:"channel"`
	Step    int    `json:"step"`
}

// Kind names the job in River's table.
func (ReadArgs) Kind() string { return "crier.reach_read" }

// InsertOpts are a read's job options: its queue and priority, when it is
// due, and unique by its arguments in every state (completed included), so
// that replicas queueing the same step read it once.
func InsertOpts(at time.Time) *river.InsertOpts {
	return &river.InsertOpts{Queue: Queue, Priority: Priority, ScheduledAt: at, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Jobs is the reads' job kind for bot.Options.Jobs.
func (e *Engine) Jobs() bot.Jobs {
	return bot.Jobs{Queue: Queue, Workers: 1, Add: func(w *river.Workers) {
		river.AddWorker(w, &readWorker{e: e})
	}}
}

type readWorker struct {
	river.WorkerDefaults[ReadArgs]
	e *Engine
}

// Timeout bounds one read: a few requests to one network.
func (w *readWorker) Timeout(*river.Job[ReadArgs]) time.Duration { return time.Minute }

func (w *readWorker) Work(ctx context.Context, job *river.Job[ReadArgs]) error {
	return w.e.runStep(ctx, job.Args)
}

// runStep runs one scheduled read. Its error tells River what to do: nil
// (done, the next step is queued), JobSnooze (the budget is spent or the
// network asked to wait: the same step later, no attempt used).
func (e *Engine) runStep(ctx context.Context, a ReadArgs) error {
	now := e.now()
	s, ok, err := e.status(ctx, a.PostID, a.Channel)
	if err != nil {
		return err
	}
	switch {
	case !ok || s.NextStep != a.Step:
		// Read already (another replica, or a job queued twice before
		// River's uniqueness could tell), or never scheduled.
		return nil
	case e.reader(ctx, a.Channel) == nil:
		e.log.Info("not reading reach: the channel is no longer configured or cannot read back", "post", a.PostID, "channel", a.Channel)
		return nil
	}
	wait, err := e.pace(ctx, s, now)
	if err != nil {
		return err
	}
	if wait > 0 {
		// In its turn of the channel's pace, or after the wait the
		// network asked for: the read waits, the deliveries do not.
		e.opts.Metrics.reads.WithLabelValues(a.Channel, "deferred").Inc()
		return river.JobSnooze(wait)
	}
	r, readErr := e.read(ctx, a.PostID, a.Channel)
	next, nextAt := e.after(s, a.Step)
	kind, retry := channels.Classify(readErr)
	switch {
	case readErr == nil:
		e.opts.Metrics.reads.WithLabelValues(a.Channel, "ok").Inc()
		if err := e.saveRead(ctx, s, a.Step, r, now, &scheduleMove{next, nextAt}); err != nil {
			return err
		}
		// Replies past reach.keep_replies go as the daemon runs, not
		// only at its start.
		if _, err := e.PurgeReplies(ctx); err != nil {
			e.log.Warn("deleting old replies", "err", err)
		}
	case kind == channels.KindRateLimited:
		// The network's own budget is spent: no read of this channel
		// until it says, and this step is read then.
		e.opts.Metrics.reads.WithLabelValues(a.Channel, "rate-limited").Inc()
		if retry <= 0 {
			retry = time.Minute // the network named no wait
		}
		if err := e.pause(ctx, a.Channel, now.Add(retry)); err != nil {
			return err
		}
		if err := e.saveFailure(ctx, a.PostID, a.Channel, readErr.Error(), now, &scheduleMove{s.NextStep, s.NextAt}); err != nil {
			return err
		}
		wait, err := e.rereserve(ctx, s, now.Add(retry), now)
		if err != nil {
			return err
		}
		return river.JobSnooze(wait)
	case kind == channels.KindPermanent:
		// The post was deleted, or the account cannot read it: no
		// further step would do better. The last good read stays.
		e.opts.Metrics.reads.WithLabelValues(a.Channel, "failed").Inc()
		if err := e.saveFailure(ctx, a.PostID, a.Channel, readErr.Error(), now, &scheduleMove{Step: len(e.opts.Schedule)}); err != nil {
			return err
		}
		e.log.Warn("reading reach failed for good; the schedule stops", "post", a.PostID, "channel", a.Channel, "err", readErr)
		return nil
	default:
		// A passing failure: the last good read stays, and the next
		// step reads again (no retry that would pile reads up).
		e.opts.Metrics.reads.WithLabelValues(a.Channel, "failed").Inc()
		if err := e.saveFailure(ctx, a.PostID, a.Channel, readErr.Error(), now, &scheduleMove{next, nextAt}); err != nil {
			return err
		}
		e.log.Warn("reading reach failed; the last good read stays", "post", a.PostID, "channel", a.Channel, "err", readErr)
	}
	e.opts.Metrics.refresh(ctx)
	s.NextStep, s.NextAt, s.Slot = next, nextAt, time.Time{}
	return e.queue(ctx, s)
}

// pace returns how long s's read must wait: for a pause the network asked
// for (a reservation made before it is given up), for its reserved time,
// or for a time it reserves now. 0 means read now.
func (e *Engine) pace(ctx context.Context, s status, now time.Time) (time.Duration, error) {
	if !s.Slot.IsZero() && s.Slot.After(now.Add(time.Second)) {
		return s.Slot.Sub(now), nil // woken early: River's scheduler is not exact
	}
	until, err := e.pausedUntil(ctx, s.Channel)
	if err != nil || !until.After(now) {
		return 0, err
	}
	// The network asked to wait: the read takes a new time in the budget
	// from the end of the wait, so that the waiting reads do not all go
	// at once then.
	return e.rereserve(ctx, s, until, now)
}

// rereserve gives s's read a new time from from on and returns how long
// to wait for it.
func (e *Engine) rereserve(ctx context.Context, s status, from, now time.Time) (time.Duration, error) {
	slot, err := e.reserve(ctx, s.Channel, from)
	if err != nil {
		return 0, err
	}
	if err := e.setSlot(ctx, s.PostID, s.Channel, slot); err != nil {
		return 0, err
	}
	return max(slot.Sub(now), time.Second), nil
}

// Refresh reads every channel of postID now, outside the schedule (the
// console's Refresh button, crier reach --refresh): the schedule goes on
// as it was. Each read counts against its channel's hourly budget, and a
// channel whose network asked to wait, or whose hour is used up, is not
// read: the refusal says until when. A channel's failure is recorded and
// joined into the error; the other channels are still read.
func (e *Engine) Refresh(ctx context.Context, postID string) error {
	ds, err := e.opts.Store.Deliveries(ctx, postID)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range ds {
		if d.State != store.DeliverySent || e.reader(ctx, d.Channel) == nil {
			continue
		}
		if err := e.refreshOne(ctx, postID, d.Channel, d.UpdatedAt); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Channel, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) refreshOne(ctx context.Context, postID, channel string, deliveredAt time.Time) error {
	now := e.now()
	if _, err := e.schedule(ctx, postID, channel, deliveredAt, deliveredAt.Add(e.opts.Schedule[0])); err != nil {
		return err
	}
	if err := e.mayRefresh(ctx, channel, now); err != nil {
		return err
	}
	s, _, err := e.status(ctx, postID, channel)
	if err != nil {
		return err
	}
	r, readErr := e.read(ctx, postID, channel)
	if readErr != nil {
		e.opts.Metrics.reads.WithLabelValues(channel, "failed").Inc()
		if kind, retry := channels.Classify(readErr); kind == channels.KindRateLimited {
			// The same pause a scheduled read takes: no read, refresh
			// or scheduled, until the network's wait is over.
			if err := e.pause(ctx, channel, now.Add(cmp.Or(retry, time.Minute))); err != nil {
				return err
			}
		}
		if err := e.saveFailure(ctx, postID, channel, readErr.Error(), now, nil); err != nil {
			return err
		}
		return readErr
	}
	e.opts.Metrics.reads.WithLabelValues(channel, "ok").Inc()
	if err := e.saveRead(ctx, s, -1, r, now, nil); err != nil {
		return err
	}
	e.opts.Metrics.refresh(ctx)
	return nil
}

// mayRefresh refuses, in plain words, a refresh of channel while its
// network asked to wait or when the hour's budget is used; otherwise it
// takes one read of the budget.
func (e *Engine) mayRefresh(ctx context.Context, channel string, now time.Time) error {
	until, err := e.pausedUntil(ctx, channel)
	if err != nil {
		return err
	}
	if until.After(now) {
		return fmt.Errorf("%s asked Crier to wait until %s: Refresh after that", e.networkName(channel), until.UTC().Format("15:04 UTC"))
	}
	ok, err := e.takeBudget(ctx, channel, now)
	if err != nil || ok {
		return err
	}
	return fmt.Errorf("this hour's %d reads of %s are used (reach.reads_per_hour): Refresh after %s", e.opts.ReadsPerHour,
		e.networkName(channel), now.UTC().Truncate(time.Hour).Add(time.Hour).Format("15:04 UTC"))
}

// networkName is how organisers call channel's network ("Mastodon"), or
// the channel's name when its type is not known.
func (e *Engine) networkName(channel string) string {
	t := e.opts.Types[channel]
	if t == "" {
		return channel
	}
	return strings.ToUpper(t[:1]) + t[1:]
}
