package bounces

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/subscribers"
)

// ProviderEvent is one event from a provider's webhook, already verified
// as the provider's: it names its recipient by address.
type ProviderEvent struct {
	Source string // ses, postmark, sendgrid, mailgun
	Ref    string // the provider's id of the event
	Kind   string // FeedbackHard, FeedbackSoft, FeedbackComplaint, FeedbackUnsubscribe
	Email  string
	// Hints finds the send: the message's Message-ID or envelope sender as
	// the provider reports them (Crier's Message-ID, a signed return path).
	Hints  []string
	Detail string
	At     time.Time
}

// ApplyProvider acts on a verified provider event. An address not on the
// list is unmatched (the provider also sends for others, or it was erased).
func (p *Processor) ApplyProvider(ctx context.Context, ev ProviderEvent) (Outcome, error) {
	sub, err := p.opts.Subscribers.GetByEmail(ctx, ev.Email)
	if errors.Is(err, subscribers.ErrNotFound) || errors.Is(err, subscribers.ErrInvalid) {
		p.metrics.WithLabelValues(ev.Source, "unmatched").Inc()
		return Outcome{Action: "unmatched", Reason: "the address is not on the list"}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	sendID, err := p.sendFor(ctx, sub.ID, ev)
	if err != nil {
		return Outcome{}, err
	}
	return p.Apply(ctx, Event{Source: ev.Source, Ref: ev.Ref, Kind: ev.Kind, SubscriberID: sub.ID, SendID: sendID, Detail: ev.Detail})
}

// sendFor finds the send an event answers: from a signed return path or
// Crier's Message-ID among the hints, else the last newsletter the
// subscriber was sent before the event.
func (p *Processor) sendFor(ctx context.Context, id int64, ev ProviderEvent) (string, error) {
	hints := strings.Join(ev.Hints, "\n")
	if p.opts.Addresses != nil {
		for _, t := range p.opts.Addresses.findTokens(hints) {
			if t.kind == 'b' && t.id == id {
				return sendByHash(ctx, p.opts.DB, t.sendHash)
			}
		}
	}
	for _, m := range p.msgID.FindAllStringSubmatch(hints, 5) {
		if m[2] == strconv.FormatInt(id, 10) {
			return sendByHash(ctx, p.opts.DB, strings.ToLower(m[1]))
		}
	}
	at := ev.At
	if at.IsZero() {
		at = p.opts.Now()
	}
	var sendID string
	err := p.opts.DB.QueryRowContext(ctx, `SELECT send_id FROM email_recipients WHERE subscriber_id = $1 AND state = 'sent' AND sent_at <= $2
		ORDER BY sent_at DESC LIMIT 1`, id, at.UTC()).Scan(&sendID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		if strings.Contains(err.Error(), "no such table") {
			return "", nil
		}
		return "", fmt.Errorf("finding the send of subscriber %d: %w", id, err)
	}
	return sendID, nil
}
