package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot"
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

// Queue inserts one notice as a job.
func (q *noticeQueue) Queue(ctx context.Context, n console.Notice) error {
	return q.bot.Insert(ctx, n, &river.InsertOpts{Queue: noticeJobs, MaxAttempts: noticeAttempts})
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
	err := q.bot.Insert(ctx, n, &river.InsertOpts{Queue: noticeJobs, MaxAttempts: noticeAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		q.log.Error("queueing the notice of a sent post", "post", postID, "err", err)
	}
}

// Work sends one notice; an error makes River try again later.
func (q *noticeQueue) Work(ctx context.Context, job *river.Job[console.Notice]) error {
	if q.send == nil {
		return errors.New("the console is not mounted")
	}
	return q.send(ctx, job.Args)
}
