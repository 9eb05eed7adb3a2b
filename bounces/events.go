package bounces

import (
	"context"
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
				return p.opts.Sends.ByHash(ctx, t.sendHash)
			}
		}
	}
	for _, m := range p.msgID.FindAllStringSubmatch(hints, 5) {
		if m[2] == strconv.FormatInt(id, 10) {
			return p.opts.Sends.ByHash(ctx, strings.ToLower(m[1]))
		}
	}
	at := ev.At
	if at.IsZero() {
		at = p.opts.Now()
	}
	sendID, err := p.opts.Sends.LastSentTo(ctx, id, at)
	if err != nil {
		return "", fmt.Errorf("finding the send of subscriber %d: %w", id, err)
	}
	return sendID, nil
}
