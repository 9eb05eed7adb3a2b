package reach

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are reach's Prometheus metrics: the reads made, and per channel
// the totals of every post's latest counters.
type Metrics struct {
	reads  *prometheus.CounterVec
	totals *prometheus.GaugeVec
	engine *Engine
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and one-shot commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_reach_reads_total", Help: "Reads of what posts reached, by channel and outcome (ok, failed, rate-limited, deferred: waiting for the channel's read budget).",
		}, []string{"channel", "outcome"}),
		totals: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crier_reach_total", Help: "Per channel, the sum over every post of its latest read of a counter (replies, reposts, likes, quotes, reactions); a counter the channel does not give is absent, not 0.",
		}, []string{"channel", "counter"}),
	}
	if reg != nil {
		reg.MustRegister(m.reads, m.totals)
	}
	return m
}

// refresh sets the totals from the store after a read.
func (m *Metrics) refresh(ctx context.Context) {
	if m.engine == nil {
		return
	}
	totals, err := m.engine.channelTotals(ctx)
	if err != nil {
		m.engine.log.Warn("adding up reach for /metrics", "err", err)
		return
	}
	m.totals.Reset()
	for ch, byName := range totals {
		for name, n := range byName {
			m.totals.WithLabelValues(ch, name).Set(float64(n))
		}
	}
}

// Refresh sets the totals from the store (at the daemon's start).
func (e *Engine) RefreshMetrics(ctx context.Context) { e.opts.Metrics.refresh(ctx) }
