package web

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/internal/promcache"
	"github.com/crierhq/crier/subscribers"
)

// newsletterMetrics count what happens on the public pages, so operators see
// sign-ups and abuse (honeypot hits, rate limiting, bad links) in /metrics.
type newsletterMetrics struct {
	events *prometheus.CounterVec
}

// Page events, the "event" label of crier_newsletter_page_events_total.
const (
	evSubscribe    = "subscribe"     // a form accepted (new or repeat address)
	evConfirm      = "confirm"       // a subscriber confirmed
	evUnsubscribe  = "unsubscribe"   // through the page's button
	evOneClick     = "one_click"     // RFC 8058 one-click
	evHoneypot     = "honeypot"      // a bot filled the hidden field
	evRateLimited  = "rate_limited"  // too many forms from one address
	evCSRF         = "csrf_refused"  // a form without a valid CSRF token
	evInvalid      = "invalid_form"  // a form with a bad address, name or no consent
	evBadLink      = "bad_link"      // a forged, altered or expired link
	evMailFailed   = "mail_failed"   // a confirmation mail could not be sent
	evQueueDropped = "queue_dropped" // the confirmation mail queue was full
	evMailCapped   = "mail_capped"   // the hourly cap on confirmation mails was reached
	evPreferences  = "preferences"   // a supporter changed what they receive
)

func newNewsletterMetrics(reg prometheus.Registerer, store *subscribers.Store) (*newsletterMetrics, error) {
	m := &newsletterMetrics{events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "crier_newsletter_page_events_total",
		Help: "Events on the newsletter's public pages, by kind.",
	}, []string{"event"})}
	if reg == nil {
		return m, nil
	}
	for _, ev := range []string{evSubscribe, evConfirm, evUnsubscribe, evOneClick, evHoneypot, evRateLimited, evCSRF, evInvalid, evBadLink, evMailFailed, evQueueDropped, evMailCapped, evPreferences} {
		m.events.WithLabelValues(ev) // show zeros from the start
	}
	if err := reg.Register(m.events); err != nil {
		return nil, fmt.Errorf("registering newsletter page metrics: %w", err)
	}
	// The counts are a query over every subscriber: read at most once per
	// promcache.DefaultEvery, however often /metrics is scraped.
	if err := reg.Register(promcache.New(&subscriberCollector{store: store}, 0, nil)); err != nil {
		return nil, fmt.Errorf("registering subscriber metrics: %w", err)
	}
	return m, nil
}

func (m *newsletterMetrics) inc(event string) { m.events.WithLabelValues(event).Inc() }

var subscribersDesc = prometheus.NewDesc("crier_newsletter_subscribers", "Newsletter subscribers by status.", []string{"status"}, nil)

// subscriberCollector reads the counts from the store, so they are right
// whoever changed them (the pages, the CLI, a bounce); it is wrapped in a
// promcache.Collector.
type subscriberCollector struct {
	store *subscribers.Store
}

func (c *subscriberCollector) Describe(ch chan<- *prometheus.Desc) { ch <- subscribersDesc }

func (c *subscriberCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.CountByStatus(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(subscribersDesc, err)
		return
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(subscribersDesc, prometheus.GaugeValue, float64(n), string(st))
	}
}
