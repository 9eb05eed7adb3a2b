package web

import (
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
	rate    RateLimit
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds memory under a flood from many addresses; above it, full
// buckets (clients idle long enough to have refilled) are dropped.
const maxBuckets = 10000

func newLimiter(rate RateLimit, now func() time.Time) *limiter {
	return &limiter{rate: rate, now: now, buckets: map[string]*bucket{}}
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
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	b.refill(now, l.rate)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) * float64(l.rate.Every))
	return false, wait
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

func (l *limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now, l.rate)
		if b.tokens >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	// Still full of active clients: start afresh rather than grow for ever.
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// clientIP is the address a request came from: the TCP peer, or, when the
// peer is one of the trusted reverse proxies, the right-most address in
// X-Forwarded-For that is not itself a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if !isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !isTrusted(a) {
			return a
		}
	}
	return peer
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
