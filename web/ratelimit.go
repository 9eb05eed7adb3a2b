package web

import (
	"container/list"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// RateLimit is a token bucket per client address: Burst requests at once,
// refilled at one every Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// limiter holds the buckets. It belongs to one mounted handler, never to the
// package, so two servers (or two tests) never share counts.
type limiter struct {
	rate RateLimit
	now  func() time.Time
	mu   sync.Mutex
	// buckets index the entries of lru, most recently used at the front.
	buckets map[string]*list.Element
	lru     *list.List
}

type bucket struct {
	key    string
	tokens float64
	last   time.Time
}

// maxBuckets bounds memory under a flood from many addresses; above it, the
// least recently used bucket is dropped. Clearing them all instead would
// hand every client, the flooding one included, a fresh burst.
const maxBuckets = 10000

func newLimiter(rate RateLimit, now func() time.Time) *limiter {
	return &limiter{rate: rate, now: now, buckets: map[string]*list.Element{}, lru: list.New()}
}

// allow takes a token for key and reports whether there was one, and if not,
// how long until there will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l.rate.Burst <= 0 || l.rate.Every <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if e, ok := l.buckets[key]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*bucket)
	} else {
		for len(l.buckets) >= maxBuckets {
			oldest := l.lru.Back()
			delete(l.buckets, oldest.Value.(*bucket).key)
			l.lru.Remove(oldest)
		}
		b = &bucket{key: key, tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = l.lru.PushFront(b)
	}
	b.refill(now, l.rate)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.rate.Every))
	return false, wait
}

// exhausted reports, without taking a token, whether key has none left, and
// how long until it has one.
func (l *limiter) exhausted(key string) (time.Duration, bool, error) {
	if l.rate.Burst <= 0 || l.rate.Every <= 0 {
		return 0, false, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.buckets[key]
	if !ok {
		return 0, false, nil
	}
	b := e.Value.(*bucket)
	b.refill(l.now(), l.rate)
	if b.tokens >= 1 {
		return 0, false, nil
	}
	return time.Duration((1 - b.tokens) * float64(l.rate.Every)), true, nil
}

func (b *bucket) refill(now time.Time, rate RateLimit) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens += float64(elapsed) / float64(rate.Every)
		if b.tokens > float64(rate.Burst) {
			b.tokens = float64(rate.Burst)
		}
		b.last = now
	}
}

// windowCounter allows at most max events in any window (a sliding
// window, remembered as the times of the events in it); max < 0 allows
// everything.
type windowCounter struct {
	max    int
	window time.Duration
	now    func() time.Time
	mu     sync.Mutex
	times  []time.Time // oldest first, at most max
}

func newWindowCounter(max int, window time.Duration, now func() time.Time) *windowCounter {
	return &windowCounter{max: max, window: window, now: now}
}

// take counts one event and reports whether it is within the cap; an event
// over the cap is not counted.
func (c *windowCounter) take() bool {
	if c.max < 0 {
		return true
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i < len(c.times) && !c.times[i].After(now.Add(-c.window)) {
		i++
	}
	c.times = c.times[i:]
	if len(c.times) >= c.max {
		return false
	}
	c.times = append(c.times, now)
	return true
}

// giveBack uncounts the latest event taken, whose mail did not go out.
func (c *windowCounter) giveBack() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.times) > 0 {
		c.times = c.times[:len(c.times)-1]
	}
}

// clientIP is the address a request came from: the TCP peer, or, when the
// peer is one of the trusted reverse proxies, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := peerAddr(r)
	if !ok {
		return netip.Addr{}
	}
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return peer
}

// peerAddr is the TCP peer's address.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return peer.Unmap(), err == nil
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedByUntrusted reports whether r carries X-Forwarded-For from a
// peer that is not a trusted proxy: a proxy in front of Crier that trusted
// does not name (its clients then all share its address), or a client
// forging the header (ignored either way).
func forwardedByUntrusted(r *http.Request, trusted []netip.Prefix) bool {
	if r.Header.Get("X-Forwarded-For") == "" {
		return false
	}
	peer, ok := peerAddr(r)
	return ok && !isTrusted(peer, trusted)
}

// limitKey groups IPv6 clients by /64, since one household or phone gets a
// whole /64 and could otherwise rotate through it.
func limitKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// ParseTrustedProxies reads reverse-proxy addresses for
// NewsletterOptions.TrustedProxies: each entry a CIDR prefix
// ("10.0.0.0/8") or a single address ("127.0.0.1", "::1").
func ParseTrustedProxies(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %d (%q): not an IP address or CIDR prefix such as 10.0.0.0/8", i+1, e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ClientIP names the client of a request for rate limits: the connection's
// address, or the address a trusted proxy forwarded.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	return clientIP(r, trusted).String()
}
