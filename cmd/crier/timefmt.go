package main

import "time"

// showTime formats a time the way every command shows it: in the
// campaign's time zone (campaign.timezone), with the zone's name, so an
// organiser never has to guess whether 09:00 is UTC or local.
func (a *App) showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc := time.UTC
	if a.Config != nil {
		loc = a.Config.Location()
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}
