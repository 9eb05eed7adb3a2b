package main

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/channels"
)

// A notice job is cancelled when only a person can fix what failed (a
// refused Matrix token), waits as long as a rate limit asks (a bounded
// number of times), and is retried with backoff otherwise.
func TestNoticeRetryFollowsTheErrorClasses(t *testing.T) {
	t.Parallel()
	refused := fmt.Errorf("posting to the room: %w", channels.Permanent(errors.New("the homeserver does not accept the access token")))
	limited := channels.RateLimited(errors.New("wait"), 5*time.Second)
	mail := errors.New("mailing a submitted notice: 451 try later")
	var cancel *river.JobCancelError
	var snooze *river.JobSnoozeError
	if noticeRetry(nil, 0) != nil {
		t.Error("nothing failed: want nil")
	}
	if err := noticeRetry(errors.Join(refused), 0); !errors.As(err, &cancel) {
		t.Errorf("refused: %v; want the job cancelled", err)
	}
	if err := noticeRetry(errors.Join(refused, limited), 0); !errors.As(err, &snooze) || snooze.Duration != 5*time.Second {
		t.Errorf("rate limited: %v; want a 5s snooze", err)
	}
	if err := noticeRetry(channels.RateLimited(errors.New("wait"), 0), 0); !errors.As(err, &snooze) || snooze.Duration != time.Second {
		t.Errorf("rate limited without a wait: %v; want a 1s snooze", err)
	}
	if err := noticeRetry(limited, noticeMaxSnoozes); err == nil || errors.As(err, &snooze) || errors.As(err, &cancel) {
		t.Errorf("rate limited after %d snoozes: %v; want a plain retry (an attempt used)", noticeMaxSnoozes, err)
	}
	if err := noticeRetry(errors.Join(refused, mail), 0); err == nil || errors.As(err, &snooze) || errors.As(err, &cancel) {
		t.Errorf("a mail server's outage: %v; want a plain retry", err)
	}
}
