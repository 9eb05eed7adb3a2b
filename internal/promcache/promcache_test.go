package promcache

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var desc = prometheus.NewDesc("test_rows", "Rows.", nil, nil)

// counting is a collector that counts how often it is asked (each time
// standing for a database query).
type counting struct{ calls atomic.Int64 }

func (c *counting) Describe(ch chan<- *prometheus.Desc) { ch <- desc }
func (c *counting) Collect(ch chan<- prometheus.Metric) {
	n := c.calls.Add(1)
	ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n))
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestScrapesShareOneRefreshPerInterval(t *testing.T) {
	inner := &counting{}
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	c := New(inner, 10*time.Second, clk.now)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	// 200 scrapes, 20 at a time, within one interval: one query.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("200 scrapes within the interval asked the inner collector %d times, want 1", n)
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("snapshot %v, %v; want the first value", mfs, err)
	}
	clk.add(9 * time.Second)
	reg.Gather()
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("a scrape within the interval refreshed (%d)", n)
	}
	clk.add(time.Second)
	reg.Gather()
	if n := inner.calls.Load(); n != 2 || c.Refreshes() != 2 {
		t.Fatalf("after the interval: %d queries, %d refreshes, want 2", n, c.Refreshes())
	}
}
