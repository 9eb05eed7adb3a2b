package web

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// heldQueue keeps the jobs for the test to run, as the daemon's job queue
// would keep them across a restart.
type heldQueue struct {
	mu     sync.Mutex
	jobs   []Confirmation
	send   SendConfirmation
	refuse error
}

func (q *heldQueue) Serve(send SendConfirmation) { q.send = send }

func (q *heldQueue) Queue(_ context.Context, c Confirmation) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.refuse != nil {
		return q.refuse
	}
	q.jobs = append(q.jobs, c)
	return nil
}

func (q *heldQueue) take(t *testing.T) Confirmation {
	t.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) != 1 {
		t.Fatalf("%d jobs queued, want 1: %+v", len(q.jobs), q.jobs)
	}
	c := q.jobs[0]
	q.jobs = nil
	return c
}

// TestConfirmationJobs: the pages put each confirmation mail in the queue
// and send it when the queue says; a failed try keeps the resend pause
// until the last try, so a supporter who asks again meanwhile does not get
// two mails.
func TestConfirmationJobs(t *testing.T) {
	t.Parallel()
	q := &heldQueue{}
	f := newFixtureOpts(t, "https://news.example.org", nil, func(o *NewsletterOptions) { o.Queue = q })
	ctx := context.Background()

	f.subscribe(t, "ann@example.org", "Ann", "192.0.2.10")
	job := q.take(t)
	if job.Name != "Ann" || job.Language != "en" || job.Issued.IsZero() {
		t.Fatalf("job %+v", job)
	}
	if len(f.mailer.all()) != 0 {
		t.Fatal("a mail went out before its job ran")
	}
	f.mailer.fail = errors.New("smtp: 451 try later")
	if err := q.send(ctx, job, false); err == nil {
		t.Fatal("a refused mail must be an error, so that the job is tried again")
	}
	f.subscribe(t, "ann@example.org", "Ann", "192.0.2.11")
	if len(q.jobs) != 0 {
		t.Fatalf("while the job will be tried again, asking again queued another: %+v", q.jobs)
	}
	if err := q.send(ctx, job, true); err == nil {
		t.Fatal("the last try failed silently")
	}
	f.subscribe(t, "ann@example.org", "Ann", "192.0.2.12")
	job = q.take(t)
	f.mailer.fail = nil
	if err := q.send(ctx, job, false); err != nil {
		t.Fatal(err)
	}
	if sent := f.mailer.all(); len(sent) != 1 || sent[0].Sub.Email != "ann@example.org" || sent[0].Sub.Name != "Ann" {
		t.Fatalf("sent %+v", sent)
	}

	// A job whose supporter was erased meanwhile sends nothing.
	f.subscribe(t, "bob@example.org", "Bob", "192.0.2.13")
	job = q.take(t)
	if err := f.store.Delete(ctx, "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := q.send(ctx, job, false); err != nil || len(f.mailer.all()) != 1 {
		t.Fatalf("an erased supporter's job: %v, %d mails", err, len(f.mailer.all()))
	}

	// A queue that cannot take the job gives the supporter their turn back.
	q.refuse = errors.New("database is locked")
	f.subscribe(t, "cy@example.org", "Cy", "192.0.2.14")
	q.refuse = nil
	f.subscribe(t, "cy@example.org", "Cy", "192.0.2.15")
	q.take(t)
}
