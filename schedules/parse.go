// Package schedules provides the organisers' cron specs, parsed with
// robfig/cron, as River periodic jobs that fire once across replicas, catch up
// once after downtime and never crash the daemon.
package schedules

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// InZone gives a spec without its own CRON_TZ= (or TZ=) prefix the time
// zone loc, so that "0 9 * * MON" means 09:00 where the campaign is rather
// than where the server is. A nil loc leaves the spec as it is.
func InZone(spec string, loc *time.Location) string {
	spec = strings.TrimSpace(spec)
	if loc == nil || spec == "" || strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return spec
	}
	return "CRON_TZ=" + loc.String() + " " + spec
}

// Parse reads a 5-field spec ("0 9 * * MON"), a descriptor ("@daily",
// "@every 5m"), either optionally prefixed by "CRON_TZ=Area/City ".
func Parse(spec string) (s cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, fmt.Errorf("empty schedule: expected a cron spec such as \"*/15 * * * *\" or \"@every 15m\"")
	}
	if rest, ok := strings.CutPrefix(spec, "CRON_TZ="); ok || strings.HasPrefix(spec, "TZ=") {
		if !ok {
			rest = strings.TrimPrefix(spec, "TZ=")
		}
		// robfig/cron panics on a time-zone prefix with nothing after it.
		if _, after, found := strings.Cut(rest, " "); !found || strings.TrimSpace(after) == "" {
			return nil, fmt.Errorf("schedule %q: time zone with no spec after it", spec)
		}
	}
	if _, every, ok := strings.Cut(spec, "@every "); ok {
		// robfig/cron turns a zero or negative interval into "every second".
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			return nil, fmt.Errorf("schedule %q: the interval must be at least 1s", spec)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("schedule %q: %v", spec, r)
		}
	}()
	s, err = parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (expected 5 fields: minute hour day-of-month month day-of-week, or @every 15m, @hourly, @daily, @weekly)", spec, err)
	}
	// robfig/cron answers the zero time for a date that never comes (30
	// February); looking five years ahead covers every real calendar.
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("schedule %q never fires (no such date)", spec)
	}
	return s, nil
}
