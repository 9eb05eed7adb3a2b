// Package bot provides Crier's fan-out: it notices new campaign posts (from the
// Markdown folder and the feeds), records one delivery per (post, channel) in
// the store and runs each as a durable River job, so a slow or failing channel
// never holds up the others and nothing is lost across restarts.
package bot

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/logrepeat"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/schedules"
	"github.com/crierhq/crier/sqldb"
)

// Options configure a Bot.
type Options struct {
	Store    *store.Store
	Channels []channels.Channel
	// MarkdownDir is the organisers' folder of posts; empty means none.
	MarkdownDir string
	// Posts reads the folder's files, checking their per-channel overrides
	// against the configured channels.
	Posts    markdown.Reader
	Feeds    []config.Feed
	Fetcher  *feed.Fetcher
	Delivery config.Delivery
	// Schedules are the cron specs; see schedules.Jobs.
	Schedules config.Schedules
	// Location is campaign.timezone: publish_at without an offset and cron
	// specs without CRON_TZ are read in it. Nil means UTC.
	Location *time.Location
	Metrics  *Metrics
	Logger   *slog.Logger
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// ResolveMedia builds the full address of a post's uploaded image when
	// it is sent (from http.public_url as it is then); an error refuses the
	// delivery with its message. Nil leaves posts as stored.
	ResolveMedia func(post.Post) (post.Post, error)
	// RetryPolicy overrides River's exponential backoff with jitter (tests
	// use a fast one).
	RetryPolicy river.ClientRetryPolicy
	// PollInterval is how often idle workers look for new jobs (SQLite has
	// no LISTEN/NOTIFY); zero means one second.
	PollInterval time.Duration
	// RescueAfter is how long a job may stay running before River takes it
	// for dead (its process was killed) and retries it; zero means
	// RescueAfter(Delivery), when no live attempt can still run.
	RescueAfter time.Duration
	// Jobs are job kinds of other packages run by the bot's job client, so
	// they are as durable as deliveries and stop with them (the newsletter's
	// confirmation mails).
	Jobs []Jobs
	// OnFailed is told when a delivery has failed for good (a permanent
	// error, or its last attempt spent), after the ledger says so: the
	// console's notices to editors. It must return quickly (queue, not
	// send); nil means nobody is told.
	OnFailed func(ctx context.Context, postID, channel string, err error)
	// OnSent is told when the last of a post's deliveries has been sent
	// (the author's notice). Two channels finishing at once may both tell
	// it; it must return quickly. Nil means nobody is told.
	OnSent func(ctx context.Context, postID string)
	// Current returns a channel as it stands now, for channels whose
	// account may be connected or disconnected while the daemon runs (from
	// the console, on any replica): it is asked before every publish,
	// delivery and digest. Nil keeps the channels as given.
	Current func(ctx context.Context, ch channels.Channel) (channels.Channel, error)
	// OnAttempt is told each delivery attempt's outcome (nil: sent), so
	// that credentials the network refused are shown where they are
	// connected. It must return quickly; nil means nobody is told.
	OnAttempt func(ctx context.Context, channel string, err error)
	// OnDelivered is told when one delivery has been sent for real (not
	// to the outbox), after the ledger says so: reach schedules its reads
	// back. It must return quickly; nil means nobody is told.
	OnDelivered func(ctx context.Context, postID, channel string)
}

// Jobs is one job kind of another package: its workers, added to the
// bot's, and its own queue, so it never waits behind a delivery.
type Jobs struct {
	Queue   string
	Workers int
	Add     func(*river.Workers)
}

// Bot is the fan-out and its delivery jobs.
type Bot struct {
	opts     Options
	store    *store.Store
	channels map[string]channels.Channel
	river    *river.Client[*sql.Tx]
	log      *slog.Logger
	now      func() time.Time
	started  time.Time
	// rescueAfter is River's RescueStuckJobsAfter.
	rescueAfter time.Duration
}

// River's maintenance timings (river v0.51.2: internal/maintenance and
// internal/leadership). River does not let a client change them, so the
// resume bound is computed from them.
const (
	// riverRescuerInterval is how often the rescuer looks for stuck jobs
	// (JobRescuerIntervalDefault).
	riverRescuerInterval = 30 * time.Second
	// riverSchedulerInterval is how often a retryable job is made
	// available (JobSchedulerIntervalDefault).
	riverSchedulerInterval = 5 * time.Second
	// riverLeaderWait bounds how long a restarted process waits to lead
	// (only the leader rescues): a killed leader's lease (elect interval
	// 5 s + TTL padding 10 s), one more election try (5 s + 1 s jitter) and
	// the maintainers' staggered start (up to 1 s).
	riverLeaderWait = 22 * time.Second
	// rescueMargin is how long after delivery.timeout a running job is
	// taken for dead: an attempt that timed out has recorded its outcome
	// well within it (the database's busy timeout is 10 s).
	rescueMargin = 15 * time.Second
)

// RescueAfter returns how long a delivery job may stay running before it is
// taken for dead: delivery.timeout plus a margin for recording the outcome.
func RescueAfter(d config.Delivery) time.Duration {
	return d.Timeout + rescueMargin
}

// ResumeBound returns the longest a delivery interrupted by a killed
// process (kill -9, a crash, a power cut) waits, counted from the kill,
// before its next attempt starts, when the daemon is restarted at once
// (rescueAfter is RescueAfter(d) unless overridden; poll is how often idle
// workers look for jobs). The rescued attempt then checks the remote side
// before sending again.
func ResumeBound(rescueAfter, poll time.Duration) time.Duration {
	return max(rescueAfter, riverLeaderWait) + riverRescuerInterval + riverSchedulerInterval + poll
}

// New migrates River's tables and builds the job client. The Bot can insert
// jobs straight away (crier publish); Start runs the workers (crier run).
func New(ctx context.Context, opts Options) (*Bot, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Fetcher == nil {
		opts.Fetcher = &feed.Fetcher{Client: http.DefaultClient, UserAgent: "Crier"}
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Posts.Location == nil {
		opts.Posts.Location = opts.Location
	}
	if opts.Delivery.Workers < 1 {
		opts.Delivery.Workers = 4
	}
	if opts.Delivery.MaxAttempts < 1 {
		opts.Delivery.MaxAttempts = 10
	}
	if opts.Delivery.Timeout <= 0 {
		opts.Delivery.Timeout = 2 * time.Minute
	}
	b := &Bot{opts: opts, store: opts.Store, channels: map[string]channels.Channel{}, log: opts.Logger, now: opts.Now,
		rescueAfter: cmp.Or(opts.RescueAfter, RescueAfter(opts.Delivery))}
	for _, ch := range opts.Channels {
		b.channels[ch.Name] = ch
	}
	driver := riverDriver(opts.Store)
	if err := migrateJobs(ctx, opts.Store.DB(), driver); err != nil {
		return nil, err
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &deliverWorker{b: b})
	river.AddWorker(workers, &pollFeedWorker{b: b})
	river.AddWorker(workers, &publishDueWorker{b: b})
	river.AddWorker(workers, &digestWorker{b: b})
	river.AddWorker(workers, &correctionWorker{b: b})

	queues := map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}}
	for _, j := range opts.Jobs {
		if _, taken := b.channels[j.Queue]; taken {
			return nil, fmt.Errorf("job queue %q: a channel has that name", j.Queue)
		}
		j.Add(workers)
		queues[j.Queue] = river.QueueConfig{MaxWorkers: max(j.Workers, 1)}
	}
	for name := range b.channels {
		// One queue per channel: a slow or rate-limited channel only ever
		// occupies its own workers.
		queues[name] = river.QueueConfig{MaxWorkers: opts.Delivery.Workers}
	}
	periodic, err := b.periodicJobs()
	if err != nil {
		return nil, err
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	// River retries in loops: during a database outage every fetch and
	// election would log its error, a hundred lines in 20 s; each is
	// logged once, and a summary when it stops.
	riverLog := slog.New(logrepeat.New(quieter{opts.Logger.Handler(), slog.LevelWarn}, 0)).With("component", "river")
	client, err := river.NewClient(driver, &river.Config{
		Queues:            queues,
		Workers:           workers,
		PeriodicJobs:      periodic,
		Logger:            riverLog,
		MaxAttempts:       opts.Delivery.MaxAttempts,
		JobTimeout:        opts.Delivery.Timeout,
		RetryPolicy:       opts.RetryPolicy,
		PollOnly:          opts.Store.Pool() == nil,
		FetchPollInterval: poll,
		FetchCooldown:     min(poll, 100*time.Millisecond),
		// A job left running by a killed process is picked up again once
		// its attempt could no longer be running anywhere.
		RescueStuckJobsAfter: b.rescueAfter,
		ErrorHandler:         &errorHandler{log: opts.Logger},
	})
	if err != nil {
		return nil, fmt.Errorf("creating job client: %w", err)
	}
	b.river = client
	return b, nil
}

// riverDriver is River's driver for the store's database. Both work with
// database/sql transactions, so a delivery's ledger row and its job are
// inserted in one transaction on either database. On PostgreSQL it is
// riverdatabasesql with riverpgxv5 listening on the store's pgx pool: the
// bot's transactions stay *sql.Tx (riverpgxv5 alone takes pgx.Tx, which
// would split every transactional path of the bot in two) while replicas
// hear of new jobs and leader changes through LISTEN/NOTIFY at once. SQLite
// has no LISTEN: River polls.
func riverDriver(st *store.Store) riverdriver.Driver[*sql.Tx] {
	if pool := st.Pool(); pool != nil {
		return riverdatabasesql.NewWithPgxListener(st.DB(), pool)
	}
	return riversqlite.New(st.DB())
}

// migrateJobs brings River's tables up to date, one replica at a time.
func migrateJobs(ctx context.Context, db *sql.DB, driver riverdriver.Driver[*sql.Tx]) error {
	release, err := sqldb.Lock(ctx, db, "migrate")
	if err != nil {
		return err
	}
	defer release()
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("preparing job table migrations: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrating job tables: %w", err)
	}
	return nil
}

// Start catches up missed schedule runs, then runs the workers and the
// periodic jobs until Stop.
func (b *Bot) Start(ctx context.Context) error {
	b.started = b.now()
	if err := b.catchUp(ctx); err != nil {
		return err
	}
	if err := b.requeueOrphans(ctx); err != nil {
		return err
	}
	if err := b.requeueCorrections(ctx); err != nil {
		return err
	}
	// Stop is the only way to stop the workers: River hard-stops running
	// jobs when its start context ends, and a signal must instead let them
	// finish.
	if err := b.river.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting job workers: %w", err)
	}
	return nil
}

// Stop lets in-flight deliveries finish (up to ctx's deadline), then cancels
// what is left; cancelled jobs are retried on the next start.
func (b *Bot) Stop(ctx context.Context) error {
	err := b.river.Stop(ctx)
	if err == nil {
		return nil
	}
	b.log.Warn("in-flight jobs did not finish in time; cancelling them (they resume on the next start)", "err", err)
	cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := b.river.StopAndCancel(cancelCtx); err != nil {
		return fmt.Errorf("stopping job workers: %w", err)
	}
	return nil
}

// Insert adds a job of a kind given in Options.Jobs; it runs once the bot
// is started, in this process or another replica.
func (b *Bot) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := b.river.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("queueing a %s job: %w", args.Kind(), err)
	}
	return nil
}

// SendsForReal reports whether any channel sends for real (has credentials
// or mode: send) rather than rendering to the outbox. Examples are then
// held back: nothing shipped as an example may leave the outbox.
func (b *Bot) SendsForReal() bool {
	for name := range b.channels {
		// A channel that cannot be looked up now counts as sending: an
		// example is held back rather than risk it.
		if ch, _, err := b.channel(context.Background(), name); err != nil || !ch.Outbox {
			return true
		}
	}
	return false
}

// channel returns the named channel as it stands now (Options.Current).
func (b *Bot) channel(ctx context.Context, name string) (channels.Channel, bool, error) {
	ch, ok := b.channels[name]
	if !ok || b.opts.Current == nil {
		return ch, ok, nil
	}
	now, err := b.opts.Current(ctx, ch)
	if err != nil {
		return ch, true, fmt.Errorf("channel %s: %w", name, err)
	}
	return now, true, nil
}

// ChannelNames lists the configured channels in a stable order.
func (b *Bot) ChannelNames() []string {
	names := make([]string, 0, len(b.channels))
	for n := range b.channels {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Publish records the post as published and queues one delivery job per
// channel, in one transaction. Channels the post skips, and deliveries
// already sent, are left out. It returns the channels queued.
func (b *Bot) Publish(ctx context.Context, p post.Post) ([]string, error) {
	return b.publish(ctx, p, nil)
}

// PublishTo queues the post for the named channels only. The post keeps its
// place in the schedule: the other channels get it when it falls due.
func (b *Bot) PublishTo(ctx context.Context, p post.Post, only []string) ([]string, error) {
	return b.publish(ctx, p, only)
}

func (b *Bot) publish(ctx context.Context, p post.Post, only []string) ([]string, error) {
	now := b.now()
	// The channels as they stand now, read before the transaction: on
	// SQLite a read beside it would wait for it.
	chans := map[string]channels.Channel{}
	for _, name := range b.ChannelNames() {
		ch, _, err := b.channel(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("publishing %s: %w", p.ID, err)
		}
		chans[name] = ch
	}
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("publishing %s: %w", p.ID, err)
	}
	defer tx.Rollback()
	current, err := store.StateTx(ctx, tx, p.ID)
	if err != nil {
		return nil, err
	}
	if current != store.PostPublished && !p.Update && !p.Example {
		// The same story from a second source (the feed item of a Markdown
		// post, say) is recorded, not sent again.
		of, err := store.PublishedWithLinkTx(ctx, tx, p.ID, p.Link)
		if err != nil {
			return nil, err
		}
		if of != "" {
			return nil, b.saveDuplicate(ctx, tx, p, of, now)
		}
	}
	if p.PublishAt.IsZero() {
		// "As soon as seen": the post's date is the day it was queued.
		p.PublishAt = now.UTC().Truncate(time.Second)
	}
	state := store.PostPublished
	if len(only) > 0 {
		state = current
		switch {
		case !b.inFolder(p) && p.Source.Kind == markdown.Kind:
			// No scan will ever send a file from elsewhere to the other
			// channels: it is published to those named.
			state = store.PostPublished
		case state == "" || state == store.PostSeen || state == store.PostWithdrawn:
			// New to Crier: the scan decides the rest when it is due.
			state = store.PostScheduled
			if p.Draft {
				state = store.PostDraft
			}
		}
	}
	if err := store.SavePostTx(ctx, tx, p, state, now); err != nil {
		return nil, err
	}
	var queued, withheld []string
	for _, name := range b.ChannelNames() {
		if len(only) > 0 && !slices.Contains(only, name) {
			continue
		}
		if p.Skips(name) {
			continue
		}
		ch := chans[name]
		if p.Example && !ch.Outbox {
			withheld = append(withheld, name)
			continue
		}
		if ch.DigestOnly {
			continue // the channel mails this post in its digest
		}
		need, err := store.AddDelivery(ctx, tx, p.ID, name, ch.Outbox, now)
		if err != nil {
			return nil, err
		}
		if !need {
			continue
		}
		res, err := b.river.InsertTx(ctx, tx, DeliverArgs{PostID: p.ID, Channel: name}, b.deliverOpts(name))
		if err != nil {
			return nil, fmt.Errorf("queueing delivery of %s to %s: %w", p.ID, name, err)
		}
		if res.UniqueSkippedAsDuplicate && res.Job.State != rivertype.JobStateRunning {
			// Already queued but waiting out a backoff: publishing again
			// means "try now".
			if _, err := b.river.JobRetryTx(ctx, tx, res.Job.ID); err != nil {
				return nil, fmt.Errorf("retrying delivery of %s to %s now: %w", p.ID, name, err)
			}
		}
		queued = append(queued, name)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("publishing %s: %w", p.ID, err)
	}
	if len(withheld) > 0 {
		b.log.Warn("example post (example: true) not sent to channels that send for real; examples only go to the outbox", "post", p.ID, "channels", withheld)
	}
	b.log.Info("post published", "post", p.ID, "title", p.Title, "channels", queued)
	b.opts.Metrics.postsPublished.WithLabelValues(p.Source.Kind).Inc()
	return queued, nil
}

// DuplicateError is returned by Publish for a post whose canonical link
// belongs to a post already published from another source: it is recorded
// as a duplicate and not sent.
type DuplicateError struct {
	PostID, Of string
}

// DuplicateOf is the post already published with the same link; callers
// outside bot (the console) find it through this method.
func (e *DuplicateError) DuplicateOf() string { return e.Of }

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s has the same link as %s, which was already published; recorded as a duplicate, not sent again", e.PostID, e.Of)
}

func (b *Bot) saveDuplicate(ctx context.Context, tx *sql.Tx, p post.Post, of string, now time.Time) error {
	if err := store.SaveDuplicateTx(ctx, tx, p, of, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording %s as a duplicate: %w", p.ID, err)
	}
	b.log.Info("same story already published from another source; recorded as a duplicate, not sent", "post", p.ID, "duplicate_of", of, "link", p.Link)
	return &DuplicateError{PostID: p.ID, Of: of}
}

// Retry queues again the failed (or unknown) deliveries of a post, to the
// named channels or all; a skipped one only when its channel is named. An unknown delivery's sender still checks the
// remote side first. It returns the channels queued.
func (b *Bot) Retry(ctx context.Context, postID string, only []string) ([]string, error) {
	if _, err := b.store.Post(ctx, postID); err != nil {
		return nil, err
	}
	ds, err := b.store.Deliveries(ctx, postID)
	if err != nil {
		return nil, err
	}
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("retrying %s: %w", postID, err)
	}
	defer tx.Rollback()
	var queued []string
	for _, d := range ds {
		if len(only) > 0 && !slices.Contains(only, d.Channel) {
			continue
		}
		// A skipped delivery is not a failure: only asked for by name (the
		// cause fixed, cards turned on) is it tried again.
		named := d.State == store.DeliverySkipped && slices.Contains(only, d.Channel)
		if d.State != store.DeliveryFailed && d.State != store.DeliveryUnknown && !named {
			continue
		}
		if _, ok := b.channels[d.Channel]; !ok {
			continue
		}
		if err := store.RequeueTx(ctx, tx, postID, d.Channel, b.now()); err != nil {
			return nil, err
		}
		if err := b.queueTx(ctx, tx, postID, d.Channel); err != nil {
			return nil, err
		}
		queued = append(queued, d.Channel)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("retrying %s: %w", postID, err)
	}
	if len(queued) > 0 {
		b.log.Info("failed deliveries queued again", "post", postID, "channels", queued)
	}
	return queued, nil
}

// queueTx queues a delivery job now, or makes the one waiting out a
// backoff run now.
func (b *Bot) queueTx(ctx context.Context, tx *sql.Tx, postID, channel string) error {
	res, err := b.river.InsertTx(ctx, tx, DeliverArgs{PostID: postID, Channel: channel}, b.deliverOpts(channel))
	if err != nil {
		return fmt.Errorf("queueing delivery of %s to %s: %w", postID, channel, err)
	}
	if res.UniqueSkippedAsDuplicate && res.Job.State == rivertype.JobStateRunning {
		return fmt.Errorf("the last attempt to deliver %s to %s is still finishing; try again in a minute", postID, channel)
	}
	if res.UniqueSkippedAsDuplicate {
		if _, err := b.river.JobRetryTx(ctx, tx, res.Job.ID); err != nil {
			return fmt.Errorf("retrying delivery of %s to %s now: %w", postID, channel, err)
		}
	}
	return nil
}

// ErrNotWaiting refuses It went out or Send again for a delivery that is
// not waiting for an organiser's check.
var ErrNotWaiting = errors.New("the delivery is not waiting for a check (it was sent, or is being sent)")

// MarkSent records, on an organiser's word (by), that a delivery whose
// outcome its channel cannot check went out (the console's "It went out").
func (b *Bot) MarkSent(ctx context.Context, postID, channel, by string) error {
	ok, err := b.store.ConfirmSent(ctx, postID, channel, "marked as sent by "+by+" after checking the channel", b.now())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s to %s: %w", postID, channel, ErrNotWaiting)
	}
	b.log.Info("delivery marked as sent by an organiser", "post", postID, "channel", channel)
	b.sentAll(ctx, b.log, postID)
	return nil
}

// SendAgain sends a delivery whose outcome its channel cannot check again,
// an organiser having found it missing (the console's "Send again").
func (b *Bot) SendAgain(ctx context.Context, postID, channel string) error {
	if _, ok := b.channels[channel]; !ok {
		return fmt.Errorf("%s: %w", channel, errNoChannel)
	}
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sending %s to %s again: %w", postID, channel, err)
	}
	defer tx.Rollback()
	ok, err := store.ResendTx(ctx, tx, postID, channel, b.now())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s to %s: %w", postID, channel, ErrNotWaiting)
	}
	if err := b.queueTx(ctx, tx, postID, channel); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sending %s to %s again: %w", postID, channel, err)
	}
	b.log.Info("delivery sent again at an organiser's request", "post", postID, "channel", channel)
	return nil
}

func (b *Bot) deliverOpts(channel string) *river.InsertOpts {
	return &river.InsertOpts{
		Queue:       channel,
		MaxAttempts: b.opts.Delivery.MaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: uniqueWhileLive()},
	}
}

// uniqueWhileLive lets a delivery be queued again once its last job has
// finished (failed deliveries can be retried by `crier publish`), but never
// twice at once. The ledger stops a sent delivery from being sent again.
func uniqueWhileLive() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}
}

// requeueOrphans gives every unfinished delivery a job again. A job can end
// while its row is not finished: River's rescuer discards a job killed on its
// last attempt, and an ambiguous last attempt leaves "unknown". The unique
// options make this a no-op for deliveries whose job is still alive, and an
// unconfirmed row's next attempt checks the remote side before sending.
func (b *Bot) requeueOrphans(ctx context.Context) error {
	rows, err := b.store.Unfinished(ctx)
	if err != nil {
		return err
	}
	for _, d := range rows {
		if _, ok := b.channels[d.Channel]; !ok {
			continue
		}
		res, err := b.river.Insert(ctx, DeliverArgs{PostID: d.PostID, Channel: d.Channel}, b.deliverOpts(d.Channel))
		if err != nil {
			return fmt.Errorf("re-queueing delivery of %s to %s: %w", d.PostID, d.Channel, err)
		}
		if !res.UniqueSkippedAsDuplicate {
			b.log.Warn("re-queued a delivery whose job had ended unfinished", "post", d.PostID, "channel", d.Channel, "state", d.State)
		}
	}
	return nil
}

// Warnings lists what organisers should fix that does not stop the daemon:
// post files that cannot be read (skipped until fixed).
func (b *Bot) Warnings(ctx context.Context) ([]string, error) {
	problems, err := b.store.PostProblems(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(problems))
	for _, p := range problems {
		out = append(out, fmt.Sprintf("post file %s cannot be read (since %s): %s", p.File, p.Since.In(b.opts.Location).Format("2006-01-02 15:04 MST"), p.Problem))
	}
	return out, nil
}

// Health reports why the daemon is unhealthy: the store does not answer, or
// the scheduler has not ticked within its expected interval.
func (b *Bot) Health(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return fmt.Errorf("store unreachable: %w", err)
	}
	sched, err := schedules.Parse(schedules.InZone(b.opts.Schedules.PublishDue, b.opts.Location))
	if err != nil {
		return err
	}
	now := b.now()
	last, ok, err := b.store.LastRun(ctx, publishDueName)
	if err != nil {
		return fmt.Errorf("store unreachable: %w", err)
	}
	if !ok || last.Before(b.started) {
		last = b.started
	}
	// Two intervals plus a minute of slack: one late tick is not an outage.
	deadline := sched.Next(sched.Next(last)).Add(time.Minute)
	if now.After(deadline) {
		return fmt.Errorf("scheduler has not ticked since %s (expected by %s)", last.Format(time.RFC3339), deadline.Format(time.RFC3339))
	}
	return nil
}

type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if job.Kind == (DeliverArgs{}).Kind() || job.Kind == (CorrectionArgs{}).Kind() {
		return nil // the delivery and correction workers log their own outcome
	}
	h.log.Warn("job failed", "kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "err", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked; recovered, it will be retried", "kind", job.Kind, "job", job.ID, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}

var errNoChannel = errors.New("channel is not configured")

// quieter passes on only records at or above min: River reports routine
// producer statistics at info level every few seconds.
type quieter struct {
	slog.Handler
	min slog.Level
}

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= q.min && q.Handler.Enabled(ctx, l)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler {
	return quieter{q.Handler.WithAttrs(as), q.min}
}

func (q quieter) WithGroup(name string) slog.Handler {
	return quieter{q.Handler.WithGroup(name), q.min}
}
