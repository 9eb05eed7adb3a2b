package channels

import (
	"strings"
	"testing"
	"time"
)

func TestCountZeroIsNotAvailable(t *testing.T) {
	t.Parallel()
	var c Count
	if c.String() != "not available" {
		t.Errorf("zero Count = %q, want not available", c)
	}
	if got := CountOf(0).String(); got != "0" {
		t.Errorf("CountOf(0) = %q", got)
	}
	if CountPtr(nil).Known {
		t.Error("CountPtr(nil) is known")
	}
}

func TestNewReachTotalsAndReplies(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	parts := []PartReach{
		{Index: 0, Counters: Counters{Likes: CountOf(3), Replies: CountOf(1)}},
		{Index: 1, Counters: Counters{Likes: CountOf(2)}},
	}
	replies := []Reply{{Author: "old", At: t0}, {Author: "new", At: t0.Add(2 * time.Hour)}, {Author: "mid", At: t0.Add(time.Hour)}}
	r := NewReach(parts, replies, 2)
	if r.Total.Likes != CountOf(5) {
		t.Errorf("total likes = %v, want 5", r.Total.Likes)
	}
	if r.Total.Replies.Known {
		t.Errorf("total replies = %v with a part unknown, want not available", r.Total.Replies)
	}
	if r.Total.Quotes.Known {
		t.Error("quotes known though no part gave them")
	}
	if len(r.Replies) != 2 || r.Replies[0].Author != "new" || r.Replies[1].Author != "mid" {
		t.Errorf("replies = %+v, want new, mid", r.Replies)
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	got := Excerpt(`<p>Hello &amp; <a href="https://x"><span>@crier</span></a></p><p>see <script>alert(1)</script>you<br>there</p>`)
	if got != "Hello & @crier see you there" {
		t.Errorf("Excerpt = %q", got)
	}
	long := Excerpt(strings.Repeat("é", 1000))
	if n := len([]rune(long)); n != ExcerptRunes {
		t.Errorf("long excerpt has %d runes, want %d", n, ExcerptRunes)
	}
}
