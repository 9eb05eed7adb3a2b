package bot

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the fan-out's Prometheus metrics.
type Metrics struct {
	deliveries       *prometheus.CounterVec
	deliveryDuration *prometheus.HistogramVec
	deliveryLatency  *prometheus.HistogramVec
	feedPolls        *prometheus.CounterVec
	postsPublished   *prometheus.CounterVec
	scheduleRuns     *prometheus.CounterVec
	lastTick         *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered, for tests and one-shot commands).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_deliveries_total", Help: "Delivery attempts by channel and outcome (sent, temporary, permanent, ambiguous, rate-limited, skipped).",
		}, []string{"channel", "outcome"}),
		deliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crier_delivery_duration_seconds", Help: "Time one delivery attempt took, by channel.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}, []string{"channel"}),
		deliveryLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "crier_delivery_latency_seconds", Help: "Time from a delivery being queued to it being sent (retries and waits included), by channel.",
			Buckets: prometheus.ExponentialBuckets(0.05, 4, 10),
		}, []string{"channel"}),
		feedPolls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_feed_polls_total", Help: "Feed polls by feed and result (new, not_modified, unchanged, error).",
		}, []string{"feed", "result"}),
		postsPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_posts_published_total", Help: "Posts fanned out, by source kind.",
		}, []string{"source"}),
		scheduleRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_schedule_runs_total", Help: "Runs of periodic jobs, by schedule.",
		}, []string{"schedule"}),
		lastTick: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crier_schedule_last_success_timestamp_seconds", Help: "When each periodic job last finished without error.",
		}, []string{"schedule"}),
	}
	if reg != nil {
		reg.MustRegister(m.deliveries, m.deliveryDuration, m.deliveryLatency, m.feedPolls, m.postsPublished, m.scheduleRuns, m.lastTick)
	}
	return m
}
