// Package reach provides what each post reached after it went out: it reads
// the public counters and replies back from every channel that can say
// (channels.ReachReader) on a decaying schedule after each delivery, as
// River jobs on their own queue so they never hold up a delivery, inside an
// hourly read budget per channel shared by replicas; it keeps the history
// and the replies (for at most reach.keep_replies), and serves them to the
// console (web/console.ReachSource), `crier reach` and /metrics.
package reach

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
)

// Options configure an Engine.
type Options struct {
	// Store holds the posts, deliveries and their sent parts; reach's own
	// tables live in the same database.
	Store    *store.Store
	Channels []channels.Channel
	// Current returns a channel as it stands now (an account connected or
	// disconnected from the console since start, bot.Options' Current);
	// nil keeps Channels as given.
	Current func(ctx context.Context, ch channels.Channel) (channels.Channel, error)
	// Types are the channels' types by name ("mastodon"), as the console
	// shows them.
	Types map[string]string
	// Config is the reach: section (schedule, keep_replies,
	// reads_per_hour); zero fields take config.DefaultReach's.
	Config config.Reach
	// Insert queues a job on the bot's job client (bot.Bot.Insert); nil
	// means reads run only when asked (crier reach --refresh).
	Insert  func(ctx context.Context, args ReadArgs, at time.Time) error
	Metrics *Metrics
	Logger  *slog.Logger
	// Now is the clock; tests inject their own.
	Now func() time.Time
}

// engineOptions are Options with defaults filled in.
type engineOptions struct {
	Options
	Schedule     []time.Duration
	KeepReplies  time.Duration
	ReadsPerHour int
	MaxReplies   int
}

// Engine schedules, runs and serves the reads.
type Engine struct {
	opts     engineOptions
	db       *sql.DB
	channels map[string]channels.Channel
	log      *slog.Logger
	now      func() time.Time
}

// Open prepares reach's tables and returns the engine.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	d := config.DefaultReach()
	o := engineOptions{Options: opts,
		Schedule:     opts.Config.Schedule,
		KeepReplies:  cmp.Or(opts.Config.KeepReplies, d.KeepReplies),
		ReadsPerHour: cmp.Or(opts.Config.ReadsPerHour, d.ReadsPerHour),
		MaxReplies:   cmp.Or(opts.Config.MaxReplies, d.MaxReplies),
	}
	if len(opts.Config.Schedule) == 0 {
		o.Schedule = d.Schedule
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if err := Prepare(ctx, opts.Store.DB()); err != nil {
		return nil, err
	}
	e := &Engine{opts: o, db: opts.Store.DB(), channels: map[string]channels.Channel{}, log: o.Logger, now: o.Now}
	for _, ch := range opts.Channels {
		e.channels[ch.Name] = ch
	}
	o.Metrics.engine = e
	return e, nil
}

// reader is the channel's ReachReader, or nil when it has none (or only
// writes to the outbox: nothing was sent to read back).
func (e *Engine) reader(ctx context.Context, channel string) channels.ReachReader {
	ch, ok := e.channels[channel]
	if ok && e.opts.Current != nil {
		if now, err := e.opts.Current(ctx, ch); err == nil {
			ch = now
		}
	}
	if !ok || ch.Outbox {
		return nil
	}
	r, _ := ch.Sender.(channels.ReachReader)
	return r
}

// Delivered schedules the reads of a delivery just sent (bot.Options'
// OnDelivered): the first at the schedule's first step. A channel that
// cannot be read back is left out.
func (e *Engine) Delivered(ctx context.Context, postID, channel string) {
	if err := e.DeliveredAt(ctx, postID, channel, e.now()); err != nil {
		e.log.Warn("scheduling the reads of a delivery; they start at the next restart", "post", postID, "channel", channel, "err", err)
	}
}

// DeliveredAt schedules the reads of a delivery sent at deliveredAt (steps
// already past are due at once); a delivery already scheduled is left as it
// is, and a channel that cannot be read back is left out.
func (e *Engine) DeliveredAt(ctx context.Context, postID, channel string, deliveredAt time.Time) error {
	if e.reader(ctx, channel) == nil {
		return nil
	}
	first := deliveredAt.Add(e.opts.Schedule[0])
	if _, err := e.schedule(ctx, postID, channel, deliveredAt, first); err != nil {
		return err
	}
	s, ok, err := e.status(ctx, postID, channel)
	if err != nil || !ok {
		return err
	}
	return e.queue(ctx, s)
}

// queue inserts the job of s's next step, if the schedule has one. The job
// is unique by its arguments, so replicas queueing the same step queue it
// once.
func (e *Engine) queue(ctx context.Context, s status) error {
	if e.opts.Insert == nil || s.NextStep >= len(e.opts.Schedule) {
		return nil
	}
	// The read's time in its channel's budget, reserved once (a restart
	// queueing it again keeps it).
	slot := s.Slot
	if slot.IsZero() {
		var err error
		if slot, err = e.reserve(ctx, s.Channel, s.NextAt); err != nil {
			return err
		}
		if err := e.setSlot(ctx, s.PostID, s.Channel, slot); err != nil {
			return err
		}
	}
	return e.opts.Insert(ctx, ReadArgs{PostID: s.PostID, Channel: s.Channel, Step: s.NextStep}, slot)
}

// Resume queues the reads still due (at the daemon's start): of deliveries
// sent within the schedule whose reads were never scheduled (sent before
// reach existed, or by a process that died before scheduling them), and
// of every schedule not finished. Old replies are deleted.
func (e *Engine) Resume(ctx context.Context) error {
	now := e.now()
	since := now.Add(-e.opts.Schedule[len(e.opts.Schedule)-1])
	sent, err := e.opts.Store.SentSince(ctx, since)
	if err != nil {
		return err
	}
	for _, d := range sent {
		if e.reader(ctx, d.Channel) == nil {
			continue
		}
		if _, err := e.schedule(ctx, d.PostID, d.Channel, d.UpdatedAt, d.UpdatedAt.Add(e.opts.Schedule[0])); err != nil {
			return err
		}
	}
	open, err := e.statuses(ctx, `next_step < $1`, len(e.opts.Schedule))
	if err != nil {
		return err
	}
	for _, s := range open {
		if e.reader(ctx, s.Channel) == nil {
			continue
		}
		if err := e.queue(ctx, s); err != nil {
			return err
		}
	}
	if err := e.purgeBudget(ctx, now.Add(-24*time.Hour)); err != nil {
		return err
	}
	if n, err := e.PurgeReplies(ctx); err != nil {
		return err
	} else if n > 0 {
		e.log.Info("deleted replies kept longer than reach.keep_replies", "replies", n, "keep_replies", e.opts.KeepReplies)
	}
	return nil
}

// errNoReader is a read of a channel that cannot be read back.
var errNoReader = errors.New("this channel cannot read back what it sent")

// read reads one delivery's reach from its channel: the parts its ledger
// recorded (a delivery with none, such as the newsletter's, is read by
// its remote id).
func (e *Engine) read(ctx context.Context, postID, channel string) (channels.Reach, error) {
	r := e.reader(ctx, channel)
	if r == nil {
		return channels.Reach{}, channels.Permanent(fmt.Errorf("reading %s on %s: %w", postID, channel, errNoReader))
	}
	parts, err := e.opts.Store.Parts(ctx, postID, channel)
	if err != nil {
		return channels.Reach{}, err
	}
	if len(parts) == 0 {
		d, err := e.opts.Store.Delivery(ctx, postID, channel)
		if err != nil {
			return channels.Reach{}, err
		}
		if d.RemoteID != "" {
			parts = []channels.Part{{RemoteID: d.RemoteID, RemoteURL: d.RemoteURL}}
		}
	}
	return r.ReadReach(ctx, parts, channels.ReachOptions{MaxReplies: e.opts.MaxReplies})
}

// after returns the step following step and when it is due, or
// len(schedule) and zero once the schedule is done.
func (e *Engine) after(s status, step int) (int, time.Time) {
	next := step + 1
	if next >= len(e.opts.Schedule) {
		return len(e.opts.Schedule), time.Time{}
	}
	return next, s.DeliveredAt.Add(e.opts.Schedule[next])
}
