package schedules

import (
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// Job is one periodic job from the config.
type Job struct {
	// Name identifies the job in logs and in the store's record of runs.
	Name string
	Spec string
	Args river.JobArgs
	// RunOnStart inserts a run as soon as the scheduler starts (polls and
	// the due-post scan); jobs without it are caught up by CatchUp instead.
	RunOnStart bool
}

// Periodic turns jobs into River periodic jobs. River runs them on the
// elected leader only, so each fires once however many replicas run.
func Periodic(jobs []Job) ([]*river.PeriodicJob, error) {
	out := make([]*river.PeriodicJob, 0, len(jobs))
	for _, j := range jobs {
		sched, err := Parse(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("schedule of %s: %w", j.Name, err)
		}
		args := j.Args
		out = append(out, river.NewPeriodicJob(sched,
			func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{ID: j.Name, RunOnStart: j.RunOnStart}))
	}
	return out, nil
}

// Decision is what to do about runs missed while Crier was down.
type Decision struct {
	// Run is true when one missed run should be made up now.
	Run bool
	// TooLate is true when the newest missed run is older than the maximum
	// lateness: it is skipped (and must be logged, never silently).
	TooLate bool
	// Missed is the newest run time that was missed.
	Missed time.Time
}

// CatchUp decides, from the last run and the spec, whether a run was missed
// between last and now. However many runs were missed, at most one is made up.
func CatchUp(spec string, last, now time.Time, maxLateness time.Duration) (Decision, error) {
	sched, err := Parse(spec)
	if err != nil {
		return Decision{}, err
	}
	next := sched.Next(last)
	if next.IsZero() || next.After(now) {
		return Decision{}, nil
	}
	missed := next
	for {
		n := sched.Next(missed)
		if n.IsZero() || !n.After(missed) || n.After(now) {
			break
		}
		missed = n
	}
	if now.Sub(missed) > maxLateness {
		return Decision{TooLate: true, Missed: missed}, nil
	}
	return Decision{Run: true, Missed: missed}, nil
}
