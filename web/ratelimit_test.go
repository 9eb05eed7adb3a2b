package web

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "192.0.2.1:5000", nil, nil, "192.0.2.1"},
		{"forwarded header ignored without trusted proxies", "192.0.2.1:5000", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"forwarded header ignored from an untrusted peer", "192.0.2.1:5000", []string{"203.0.113.9"}, proxies, "192.0.2.1"},
		{"trusted proxy", "10.1.2.3:5000", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"client-supplied entries left of the real one are ignored", "10.1.2.3:5000", []string{"1.2.3.4, 203.0.113.9"}, proxies, "203.0.113.9"},
		{"chain of trusted proxies", "10.1.2.3:5000", []string{"203.0.113.9, 10.9.9.9"}, proxies, "203.0.113.9"},
		{"several header lines", "10.1.2.3:5000", []string{"198.51.100.1", "203.0.113.9"}, proxies, "203.0.113.9"},
		{"garbage in the header falls back to the peer", "10.1.2.3:5000", []string{"not-an-ip"}, proxies, "10.1.2.3"},
		{"IPv6 proxy", "[::1]:5000", []string{"2001:db8::7"}, proxies, "2001:db8::7"},
		{"IPv4-mapped", "[::ffff:192.0.2.1]:5000", nil, nil, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tt.trusted).String(); got != tt.want {
				t.Fatalf("clientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{Burst: 2, Every: 10 * time.Second}, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if ok, _ := l.allow("a"); ok != want {
			t.Fatalf("request %d: %v, want %v", i+1, ok, want)
		}
	}
	if _, wait := l.allow("a"); wait != 10*time.Second {
		t.Fatalf("wait %v, want 10s", wait)
	}
	now = now.Add(5 * time.Second)
	if ok, wait := l.allow("a"); ok || wait != 5*time.Second {
		t.Fatalf("half refilled: %v, wait %v", ok, wait)
	}
	now = now.Add(5 * time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("not refilled after 10s")
	}

	// The table stays bounded under a flood of distinct addresses.
	for i := range maxBuckets * 2 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String())
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets kept, at most %d allowed", n, maxBuckets)
	}
	if ok, _ := newLimiter(RateLimit{}, time.Now).allow("x"); !ok {
		t.Fatal("a zero rate limit must allow everything")
	}
}

// A full table drops the least recently used client, never everyone's
// counts: a flood of new addresses must not give an active abuser a fresh
// burst.
func TestLimiterOverflowEvictsOldest(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{Burst: 1, Every: time.Hour}, func() time.Time { return now })
	key := func(i int) string { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String() }
	l.allow("abuser")
	for i := range maxBuckets - 1 {
		l.allow(key(i))
	}
	if ok, _ := l.allow("abuser"); ok {
		t.Fatal("abuser allowed twice")
	}
	for i := maxBuckets; i < maxBuckets+100; i++ {
		if ok, _ := l.allow(key(i)); !ok {
			t.Fatalf("new client %d refused", i)
		}
	}
	if ok, _ := l.allow("abuser"); ok {
		t.Fatal("the overflow reset a recently active client's bucket")
	}
	if len(l.buckets) != maxBuckets || l.lru.Len() != maxBuckets {
		t.Fatalf("%d buckets, %d in the LRU list; want %d", len(l.buckets), l.lru.Len(), maxBuckets)
	}
	if _, kept := l.buckets[key(0)]; kept {
		t.Fatal("the least recently used client was kept")
	}
	if _, kept := l.buckets[key(200)]; !kept {
		t.Fatal("a client evicted out of order")
	}
}

func TestWindowCounter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newWindowCounter(2, time.Hour, func() time.Time { return now })
	for i, want := range []bool{true, true, false} {
		if got := c.take(); got != want {
			t.Fatalf("take %d: %v, want %v", i+1, got, want)
		}
		now = now.Add(10 * time.Minute)
	}
	c.giveBack()
	if !c.take() || c.take() {
		t.Fatal("giveBack did not free exactly one")
	}
	now = now.Add(31 * time.Minute) // the first take is now over an hour old
	if !c.take() || c.take() {
		t.Fatal("the window did not slide")
	}
	u := newWindowCounter(-1, time.Hour, time.Now)
	for range 3 {
		if !u.take() {
			t.Fatal("a negative cap must allow everything")
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 127.0.0.1 ", "::1", "192.168.1.7/24"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "192.168.1.0/24"}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, p, want[i])
		}
	}
	if _, err := ParseTrustedProxies([]string{"10.0.0.0/8", "proxy.local"}); err == nil || !strings.Contains(err.Error(), "trusted proxy 2") {
		t.Fatalf("bad entry: %v", err)
	}
}
