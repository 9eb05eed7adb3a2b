package schedules

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr string
	}{
		{"*/15 * * * *", ""},
		{"@every 5m", ""},
		{"@daily", ""},
		{"CRON_TZ=Europe/London 0 9 * * MON", ""},
		{"", "empty schedule"},
		{"CRON_TZ=", "time zone with no spec"},
		{"CRON_TZ=Europe/London", "time zone with no spec"},
		{"CRON_TZ=Europe/London   ", "time zone with no spec"},
		{"CRON_TZ=Mars/Olympus 0 9 * * *", "Mars/Olympus"},
		{"0 9 * *", "expected 5 fields"},
		{"0 25 * * *", "above maximum"},
		{"@fortnightly", "unrecognized descriptor"},
		{"@every -5m", "schedule"},
		{"0 0 30 2 *", "never fires"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := Parse(tt.spec)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
			}
		})
	}
}

func TestCatchUp(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name, spec, last, now string
		maxLate               time.Duration
		want                  Decision
	}{
		{"nothing missed", "0 9 * * *", "2026-11-26T09:00:00Z", "2026-11-26T20:00:00Z", 6 * time.Hour, Decision{}},
		{"one missed, within lateness", "0 9 * * *", "2026-11-25T09:00:00Z", "2026-11-26T11:00:00Z", 6 * time.Hour,
			Decision{Run: true, Missed: at("2026-11-26T09:00:00Z")}},
		{"several missed: made up once", "0 * * * *", "2026-11-26T01:00:00Z", "2026-11-26T05:30:00Z", 6 * time.Hour,
			Decision{Run: true, Missed: at("2026-11-26T05:00:00Z")}},
		{"missed too long ago", "0 9 * * MON", "2026-11-16T09:00:00Z", "2026-11-26T12:00:00Z", 6 * time.Hour,
			Decision{TooLate: true, Missed: at("2026-11-23T09:00:00Z")}},
		{"time zone respected", "CRON_TZ=America/New_York 0 9 * * *", "2026-11-25T14:00:00Z", "2026-11-26T14:30:00Z", time.Hour,
			Decision{Run: true, Missed: at("2026-11-26T14:00:00Z")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CatchUp(tt.spec, at(tt.last), at(tt.now), tt.maxLate)
			if err != nil {
				t.Fatal(err)
			}
			if got.Run != tt.want.Run || got.TooLate != tt.want.TooLate || !got.Missed.Equal(tt.want.Missed) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "@every 1m", "CRON_TZ=UTC 0 0 * * *", "CRON_TZ=", "TZ= "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec) // must never panic
		if err == nil && s == nil {
			t.Fatal("nil schedule without error")
		}
	})
}

func TestInZone(t *testing.T) {
	london, _ := time.LoadLocation("Europe/London")
	for spec, want := range map[string]string{
		"0 9 * * MON":                        "CRON_TZ=Europe/London 0 9 * * MON",
		"@daily":                             "CRON_TZ=Europe/London @daily",
		"CRON_TZ=America/New_York 0 9 * * *": "CRON_TZ=America/New_York 0 9 * * *",
		"TZ=UTC 0 9 * * *":                   "TZ=UTC 0 9 * * *",
		"":                                   "",
	} {
		if got := InZone(spec, london); got != want {
			t.Errorf("InZone(%q) = %q, want %q", spec, got, want)
		}
	}
	// Summer and winter: 09:00 London is 08:00 and 09:00 UTC.
	s, err := Parse(InZone("0 9 * * *", london))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(time.Date(2031, 7, 1, 0, 0, 0, 0, time.UTC)).UTC(); got.Hour() != 8 {
		t.Errorf("summer run at %s UTC", got)
	}
	if got := s.Next(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)).UTC(); got.Hour() != 9 {
		t.Errorf("winter run at %s UTC", got)
	}
	if got := InZone("@every 5m", nil); got != "@every 5m" {
		t.Errorf("nil zone changed the spec: %q", got)
	}
}
