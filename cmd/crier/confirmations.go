package main

import (
	"context"
	"errors"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/web"
)

// confirmationQueue is the newsletter pages' durable queue of confirmation
// mails: each is a River job run by the bot's job client on a queue of its
// own, so mails queued when the daemon stops (or dies) go out after the
// next start, and replicas share the work.
type confirmationQueue struct {
	river.WorkerDefaults[web.Confirmation]
	bot  *bot.Bot
	send web.SendConfirmation
}

const (
	// confirmationJobs is the confirmation mails' River queue.
	confirmationJobs = "confirmation-mails"
	// confirmationWorkers send at once, as the pages' workers always did.
	confirmationWorkers = 2
	// confirmationAttempts spans about 16 minutes of River's backoff
	// (1 s, 16 s, 81 s, 256 s, 625 s between tries): an SMTP outage of that
	// length loses no mail; after it the supporter can ask again at once.
	confirmationAttempts = 6
)

// jobs is what the bot needs to run these jobs.
func (q *confirmationQueue) jobs() bot.Jobs {
	return bot.Jobs{Queue: confirmationJobs, Workers: confirmationWorkers, Add: func(w *river.Workers) { river.AddWorker(w, q) }}
}

func (q *confirmationQueue) Serve(send web.SendConfirmation) { q.send = send }

func (q *confirmationQueue) Queue(ctx context.Context, c web.Confirmation) error {
	return q.bot.Insert(ctx, c, &river.InsertOpts{Queue: confirmationJobs, MaxAttempts: confirmationAttempts})
}

// Work sends one mail; an error makes River try again later.
func (q *confirmationQueue) Work(ctx context.Context, job *river.Job[web.Confirmation]) error {
	if q.send == nil {
		return errors.New("the newsletter pages are not mounted")
	}
	return q.send(ctx, job.Args, job.Attempt >= job.MaxAttempts)
}
