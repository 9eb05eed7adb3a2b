package telegram

import (
	"testing"
	"time"
)

// Quiet hours hold in the campaign's time zone, over midnight too.
func TestQuietHours(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no time zone data")
	}
	cfg := Config{QuietHours: "22:00-07:00"}
	for _, tc := range []struct {
		at    string
		quiet bool
	}{
		{"2026-07-01T21:30:00Z", true}, // 22:30 in London (BST)
		{"2026-07-01T20:59:00Z", false},
		{"2026-07-02T05:59:00Z", true}, // 06:59
		{"2026-07-02T06:00:00Z", false},
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := cfg.quiet(at, london); got != tc.quiet {
			t.Errorf("%s: quiet %v, want %v", tc.at, got, tc.quiet)
		}
	}
	if (Config{QuietHours: "09:00-17:00"}).quiet(time.Date(2026, 1, 1, 18, 0, 0, 0, time.UTC), nil) {
		t.Error("18:00 is outside 09:00-17:00")
	}
}
