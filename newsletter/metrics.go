package newsletter

import (
	"context"
	"database/sql"
	"errors"
	"github.com/crierhq/crier/sqldb"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/internal/promcache"
)

type metrics struct {
	messages *prometheus.CounterVec
	// sent is messages{outcome="sent"}, resolved once: it counts every
	// message.
	sent prometheus.Counter
	// progress serves the ledger's per-send counts from a snapshot.
	progress *promcache.Collector
}

// newMetrics creates the counters and, with reg, registers them and a
// collector that reads each unfinished send's progress from the ledger.
func newMetrics(reg prometheus.Registerer, db *sql.DB, every time.Duration) *metrics {
	m := &metrics{messages: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_newsletter_messages_total",
		Help: "Newsletter messages by outcome: sent, failed, skipped (left the list), retried (4xx or lost connection).",
	}, []string{"outcome"})}
	if reg == nil {
		m.sent = m.messages.WithLabelValues("sent")
		return m
	}
	// Progress counts the ledger's rows: read at most once per
	// promcache.DefaultEvery, however often /metrics is scraped, so a
	// scrape loop cannot take SQLite's one connection from the send.
	m.progress = promcache.New(&progressCollector{db: db}, every, nil)
	for _, c := range []prometheus.Collector{m.messages, m.progress} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if cv, ok := are.ExistingCollector.(*prometheus.CounterVec); ok && c == m.messages {
					m.messages = cv
				}
			}
		}
	}
	m.sent = m.messages.WithLabelValues("sent")
	return m
}

var (
	progressDesc = prometheus.NewDesc("crier_newsletter_send_recipients",
		"Recipients of each newsletter send still running or finished last, by state (total, sent, failed, skipped, pending).",
		[]string{"send_id", "state"}, nil)
	feedbackDesc = prometheus.NewDesc("crier_newsletter_send_feedback",
		"What came back from each newsletter send still running or finished last: delivered (accepted and not bounced), bounced, soft_bounced, complained, unsubscribed.",
		[]string{"send_id", "kind"}, nil)
	complaintRateDesc = prometheus.NewDesc("crier_newsletter_send_complaint_rate",
		"Spam complaints per delivered message of each newsletter send still running or finished last (Gmail and Yahoo require bulk senders to stay under 0.003).",
		[]string{"send_id"}, nil)
	rateDesc = prometheus.NewDesc("crier_newsletter_send_rate_messages_per_second",
		"Messages per second over the last minute, for each running newsletter send.", []string{"send_id"}, nil)
)

// progressCollector reports SendProgress from the ledger, so /metrics and
// `crier status` agree (within promcache.DefaultEvery).
type progressCollector struct{ db *sql.DB }

func (c *progressCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- progressDesc
	ch <- feedbackDesc
	ch <- complaintRateDesc
	ch <- rateDesc
}

func (c *progressCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Only running sends and the newest one: counting finished sends' rows
	// on every scrape would hold SQLite's one connection for nothing.
	ps, err := liveProgress(ctx, c.db)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(progressDesc, err)
		return
	}
	for i, p := range ps {
		if p.State != sendSending && i > 0 {
			continue
		}
		for state, v := range map[string]int{"total": p.Total, "sent": p.Sent, "failed": p.Failed, "skipped": p.Skipped, "pending": p.Pending} {
			ch <- prometheus.MustNewConstMetric(progressDesc, prometheus.GaugeValue, float64(v), p.SendID, state)
		}
		for kind, v := range map[string]int{"delivered": p.Delivered, "bounced": p.Bounced, "soft_bounced": p.SoftBounced, "complained": p.Complained, "unsubscribed": p.Unsubscribed} {
			ch <- prometheus.MustNewConstMetric(feedbackDesc, prometheus.GaugeValue, float64(v), p.SendID, kind)
		}
		ch <- prometheus.MustNewConstMetric(complaintRateDesc, prometheus.GaugeValue, p.ComplaintRate, p.SendID)
		if p.State == sendSending {
			ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, p.Rate, p.SendID)
		}
	}
}

// liveProgress is SendProgress for the running sends and the newest one.
func liveProgress(ctx context.Context, db *sql.DB) ([]Progress, error) {
	if exists, err := sqldb.DialectOf(db).TableExists(ctx, db, "email_sends"); err != nil || !exists {
		return nil, err
	}
	return progress(ctx, db, `state = 'sending' OR id = (SELECT id FROM email_sends ORDER BY created_at DESC, id LIMIT 1)`)
}
