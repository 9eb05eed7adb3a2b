// Package promcache provides a Prometheus collector that serves a snapshot
// of another collector's metrics, refreshed at most once per interval, so
// that metrics read from the database cost one query per interval however
// often (or by whom) /metrics is scraped.
package promcache

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultEvery is how old a snapshot may be before a scrape refreshes it.
const DefaultEvery = 10 * time.Second

// Collector is a caching wrapper around another collector.
type Collector struct {
	inner prometheus.Collector
	every time.Duration
	now   func() time.Time

	// mu is held during a refresh: concurrent scrapes wait for it and share
	// its result instead of each querying.
	mu        sync.Mutex
	at        time.Time
	snap      []prometheus.Metric
	refreshes int64
}

// New wraps inner; every <= 0 means DefaultEvery, a nil now means time.Now.
func New(inner prometheus.Collector, every time.Duration, now func() time.Time) *Collector {
	if every <= 0 {
		every = DefaultEvery
	}
	if now == nil {
		now = time.Now
	}
	return &Collector{inner: inner, every: every, now: now}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.inner.Describe(ch) }

// Collect implements prometheus.Collector: the snapshot, refreshed first when
// it is older than the interval.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if c.refreshes == 0 || c.now().Sub(c.at) >= c.every {
		c.snap = c.collectInner()
		c.at = c.now()
		c.refreshes++
	}
	snap := c.snap
	c.mu.Unlock()
	for _, m := range snap {
		ch <- m
	}
}

func (c *Collector) collectInner() []prometheus.Metric {
	out := make(chan prometheus.Metric, 64)
	done := make(chan []prometheus.Metric)
	go func() {
		var ms []prometheus.Metric
		for m := range out {
			ms = append(ms, m)
		}
		done <- ms
	}()
	c.inner.Collect(out)
	close(out)
	return <-done
}

// Refreshes is how many times the inner collector was asked (tests).
func (c *Collector) Refreshes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshes
}
