package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/redact"
	"github.com/crierhq/crier/web/console"
)

// noticeQueue is the console's durable queue of notices to organisers
// (docs/console.md, Notifications): each is a River job run by the bot's
// job client on a queue of its own, so a notice queued by a request, or by
// a delivery failing for good, is sent after the request has answered and
// survives a stop or a crash.
type noticeQueue struct {
	river.WorkerDefaults[console.Notice]
	bot  *bot.Bot
	send func(context.Context, console.Notice) error
	// ways are where notices go, one job each: "mail" and each chat's
	// name (console.Notice.Via), so that a chat's outage never mails
	// people twice nor a mail server's posts to a chat twice. Empty: one
	// job for all.
	ways []string
	log  *slog.Logger
}

const (
	// noticeJobs is the notices' River queue, apart from deliveries.
	noticeJobs = "console-notices"
	// noticeAttempts spans about 16 minutes of River's backoff, as the
	// confirmation mails' do: a mail server's short outage loses nothing.
	noticeAttempts = 6
)

func (q *noticeQueue) jobs() bot.Jobs {
	return bot.Jobs{Queue: noticeJobs, Workers: 1, Add: func(w *river.Workers) { river.AddWorker(w, q) }}
}

// Queue inserts one notice as a job per way it goes.
func (q *noticeQueue) Queue(ctx context.Context, n console.Notice) error {
	return q.insert(ctx, n, river.UniqueOpts{})
}

func (q *noticeQueue) insert(ctx context.Context, n console.Notice, unique river.UniqueOpts) error {
	ways := q.ways
	if len(ways) == 0 {
		ways = []string{""}
	}
	var errs []error
	for _, via := range ways {
		n.Via = via
		errs = append(errs, q.bot.Insert(ctx, n, &river.InsertOpts{Queue: noticeJobs, MaxAttempts: noticeAttempts, UniqueOpts: unique}))
	}
	return errors.Join(errs...)
}

// failed is the bot's OnFailed: editors hear of a delivery failed for good.
func (q *noticeQueue) failed(ctx context.Context, postID, channel string, err error) {
	n := console.Notice{Event: console.NoticeFailed, PostID: postID, Channel: channel, Detail: redact.Addresses(err.Error())}
	if err := q.Queue(ctx, n); err != nil {
		q.log.Error("queueing the notice of a failed delivery", "post", postID, "channel", channel, "err", err)
	}
}

// sent is the bot's OnSent: the author hears that every delivery of
// their post is sent, once (two channels finishing at once queue one job).
func (q *noticeQueue) sent(ctx context.Context, postID string) {
	n := console.Notice{Event: console.NoticeSent, PostID: postID}
	if err := q.insert(ctx, n, river.UniqueOpts{ByArgs: true}); err != nil {
		q.log.Error("queueing the notice of a sent post", "post", postID, "err", err)
	}
}

// Work sends one notice, named by its job (the same on every attempt, so
// a Matrix room posts it once), and tells River what to do with what was
// not sent (noticeRetry).
func (q *noticeQueue) Work(ctx context.Context, job *river.Job[console.Notice]) error {
	if q.send == nil {
		return errors.New("the console is not mounted")
	}
	n := job.Args
	n.Sending = fmt.Sprintf("crier-notice-%d-%d", job.ID, job.CreatedAt.UnixNano())
	var meta struct {
		Snoozes int `json:"snoozes"` // River's count of JobSnooze
	}
	_ = json.Unmarshal(job.Metadata, &meta)
	err := noticeRetry(q.send(ctx, n), meta.Snoozes)
	if err != nil {
		q.log.Warn("a notice was not sent to everyone", "event", string(n.Event), "post", n.PostID, "attempt", job.Attempt, "err", err)
	}
	return err
}

// noticeMaxSnoozes bounds the waits a rate limit asks for (they use no
// attempt): a chat that always asks to wait runs out of attempts instead.
const noticeMaxSnoozes = 10

// noticeRetry tells River what to do with a notice's errors (each a mail
// or a chat that failed, their classes as channels gives them): nothing
// when all went; cancel the job when every failure needs a person (a
// refused token: trying again cannot help, and the error says what to
// change); wait as long as a rate limit asked; else retry with backoff.
func noticeRetry(err error, snoozes int) error {
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	wait, limited := time.Duration(0), false
	for _, e := range errs {
		switch kind, after := channels.Classify(e); kind {
		case channels.KindPermanent:
		case channels.KindRateLimited:
			wait, limited = max(wait, after, time.Second), true
		default:
			return err
		}
	}
	switch {
	case !limited:
		return river.JobCancel(err)
	case snoozes < noticeMaxSnoozes:
		return river.JobSnooze(wait)
	}
	return err
}
