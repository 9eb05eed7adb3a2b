package channels

import (
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
)

// Count is one public counter as a network gave it. The zero value is "not
// available": a counter the network does not report, or one not read, is
// never shown as 0.
type Count struct {
	N     int64
	Known bool
}

// CountOf returns a known count of n.
func CountOf(n int64) Count { return Count{N: n, Known: true} }

// CountPtr returns a known count of *n, or "not available" when n is nil (a
// field missing from the network's answer).
func CountPtr(n *int64) Count {
	if n == nil {
		return Count{}
	}
	return CountOf(*n)
}

// String is the number, or "not available".
func (c Count) String() string {
	if !c.Known {
		return "not available"
	}
	return strconv.FormatInt(c.N, 10)
}

// plus adds two counts: a sum is known only when both are, since a total
// over parts with one unknown would understate.
func (c Count) plus(o Count) Count {
	if !c.Known || !o.Known {
		return Count{}
	}
	return CountOf(c.N + o.N)
}

// Counters are the public counters of one post part or of a whole delivery,
// in Crier's words: Reposts are Mastodon's boosts, Likes its favourites.
// Each channel fills only what its network reports.
type Counters struct {
	Replies, Reposts, Likes, Quotes, Reactions Count
}

// Plus adds o counter by counter (see Count's plus).
func (c Counters) Plus(o Counters) Counters {
	return Counters{
		Replies: c.Replies.plus(o.Replies), Reposts: c.Reposts.plus(o.Reposts), Likes: c.Likes.plus(o.Likes),
		Quotes: c.Quotes.plus(o.Quotes), Reactions: c.Reactions.plus(o.Reactions),
	}
}

// PartReach is the counters of one part a delivery sent (a toot of a
// thread).
type PartReach struct {
	Index    int
	RemoteID string
	Counters Counters
}

// Reply is one public reply, as little of it as the post page needs: no
// account id, no avatar, nothing kept beyond what is shown.
type Reply struct {
	// Author is the public handle ("@ana@example.org", "ana.bsky.social").
	Author string
	At     time.Time
	// Warning is the reply's content warning ("" when none): the page
	// shows Excerpt only behind it.
	Warning string
	// Excerpt is plain text (HTML removed with bluemonday), at most
	// ExcerptRunes runes.
	Excerpt string
	// URL is where to read and answer it on the network.
	URL string
}

// Reach is what one read found.
type Reach struct {
	Parts []PartReach
	// Total adds the parts' counters (a counter is known only when every
	// part's is).
	Total Counters
	// Replies are the newest first, at most ReachOptions.MaxReplies.
	Replies []Reply
	// Notes say what is not available and why ("the server answers no
	// counters without an App View").
	Notes []string
	// Extra are counts only this channel has, with their names (the
	// newsletter's delivered, bounced and clicks; the archive's views).
	Extra []NamedCount
}

// NamedCount is one channel-specific count ("clicks", "delivered").
type NamedCount struct {
	Name  string
	Count Count
}

// ReachOptions bounds one read.
type ReachOptions struct {
	// MaxReplies is how many replies to return; 0 means DefaultMaxReplies.
	MaxReplies int
}

// DefaultMaxReplies is how many replies a read returns unless told.
const DefaultMaxReplies = 20

// ExcerptRunes is the longest excerpt a Reply carries.
const ExcerptRunes = 280

// Limit returns MaxReplies, or DefaultMaxReplies when unset.
func (o ReachOptions) Limit() int {
	if o.MaxReplies <= 0 {
		return DefaultMaxReplies
	}
	return o.MaxReplies
}

// NewReach builds a Reach from its parts, adding the total, and keeps the
// newest limit replies, newest first.
func NewReach(parts []PartReach, replies []Reply, limit int, notes ...string) Reach {
	r := Reach{Parts: parts, Notes: notes}
	for i, p := range parts {
		if i == 0 {
			r.Total = p.Counters
			continue
		}
		r.Total = r.Total.Plus(p.Counters)
	}
	sorted := make([]Reply, len(replies))
	copy(sorted, replies)
	slices.SortStableFunc(sorted, func(a, b Reply) int { return b.At.Compare(a.At) })
	if len(sorted) > limit {
		sorted = sorted[:limit]
	}
	r.Replies = sorted
	return r
}

// excerptPolicy keeps no element at all: an excerpt is plain text.
var excerptPolicy = bluemonday.StrictPolicy()

var (
	blockEnd = regexp.MustCompile(`(?i)<br\s*/?>|</p>`)
	spaces   = regexp.MustCompile(`\s+`)
)

// Excerpt turns a reply's text (HTML or plain) into a plain-text excerpt of
// at most ExcerptRunes runes: every tag removed by bluemonday, entities
// decoded, whitespace folded.
func Excerpt(s string) string {
	s = blockEnd.ReplaceAllString(s, " ")
	s = html.UnescapeString(excerptPolicy.Sanitize(s))
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if utf8.RuneCountInString(s) <= ExcerptRunes {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:ExcerptRunes-1])) + "…"
}
