package bot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
)

// noteArgs is a job kind of another package.
type noteArgs struct {
	Text string `json:"text"`
}

func (noteArgs) Kind() string { return "test_note" }

type noteWorker struct {
	river.WorkerDefaults[noteArgs]
	got chan string
}

func (w *noteWorker) Work(ctx context.Context, job *river.Job[noteArgs]) error {
	w.got <- job.Args.Text
	return nil
}

// TestOtherPackagesJobs: a job kind given in Options.Jobs runs on its own
// queue once the bot is started, and a queue named like a channel is
// refused.
func TestOtherPackagesJobs(t *testing.T) {
	t.Parallel()
	h := setup(t, "mastodon")
	w := &noteWorker{got: make(chan string, 1)}
	jobs := Jobs{Queue: "notes", Workers: 1, Add: func(ws *river.Workers) { river.AddWorker(ws, w) }}
	b := h.bot(Options{Jobs: []Jobs{jobs}})
	ctx := context.Background()
	if err := b.Insert(ctx, noteArgs{Text: "hello"}, &river.InsertOpts{Queue: "notes"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	select {
	case got := <-w.got:
		if got != "hello" {
			t.Errorf("got %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the job never ran")
	}

	opts := Options{Store: h.store, Jobs: []Jobs{{Queue: "mastodon", Add: jobs.Add}}}
	for _, c := range h.chans {
		opts.Channels = append(opts.Channels, c.channel())
	}
	if _, err := New(ctx, opts); err == nil || !strings.Contains(err.Error(), `job queue "mastodon": a channel has that name`) {
		t.Errorf("a job queue named like a channel: %v", err)
	}
}
