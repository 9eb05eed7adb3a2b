package console

import (
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// TestChartAxisStartsAtZero: the chart's vertical axis is labelled from 0
// to a round top, with a round middle line when there is one, whatever the
// counts (a single favourite drew its axis as "1" alone).
func TestChartAxisStartsAtZero(t *testing.T) {
	t.Parallel()
	c := &Console{opts: Options{Location: time.UTC}}
	at := time.Date(2031, 5, 1, 9, 0, 0, 0, time.UTC)
	for top, want := range map[int64]string{0: "0 1", 1: "0 1", 2: "0 1 2", 3: "0 5", 7: "0 5 10", 12: "0 10 20", 480: "0 250 500"} {
		ss := []series{{Name: "likes", Values: []channels.Count{channels.CountOf(top)}, Latest: channels.CountOf(top)}}
		ch := c.chartOf([]ReachPoint{{At: at}}, ss, 0)
		var got []string
		for _, tk := range ch.YTicks {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("counts up to %d: the axis reads %v, want %s", top, got, want)
		}
	}
}
