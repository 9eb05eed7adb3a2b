package bounces

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/subscribers"
)

// Options configure a Processor.
type Options struct {
	DB          *sql.DB
	Subscribers *subscribers.Store
	Config      Config
	// Addresses reads the signed return paths and unsubscribe addresses;
	// nil when channels.email.bounces.address is not set (then only
	// Crier's Message-IDs identify a subscriber).
	Addresses *Addresses
	// MessageIDDomain is the domain of the newsletter's Message-IDs (the
	// from address's).
	MessageIDDomain string
	// Sends finds the send a piece of feedback answers (newsletter.Sends);
	// nil when no newsletter was ever sent.
	Sends      Sends
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Processor acts on feedback: it records each bounce, complaint and mailed
// unsubscribe once and changes the subscriber's status.
type Processor struct {
	opts    Options
	msgID   *regexp.Regexp
	metrics *prometheus.CounterVec
}

// NewProcessor creates the feedback table (after the subscribers' tables)
// and returns the processor.
func NewProcessor(ctx context.Context, o Options) (*Processor, error) {
	if o.DB == nil || o.Subscribers == nil {
		return nil, errors.New("bounce processor: the store and the subscribers are required")
	}
	if err := upgrade(ctx, o.DB); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("component", "bounces")
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sends == nil {
		o.Sends = noSends{}
	}
	domain := strings.ToLower(o.MessageIDDomain)
	if domain == "" {
		domain = "crier.invalid"
	}
	p := &Processor{opts: o,
		msgID: regexp.MustCompile(`(?i)crier\.([0-9a-f]{16})\.([0-9]{1,18})@` + regexp.QuoteMeta(domain) + `\b`),
		metrics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_newsletter_feedback_total",
			Help: "Bounces, complaints and unsubscribes received, by source (imap, ses, postmark, sendgrid, mailgun) and outcome (hard_bounce, soft_bounce, complaint, unsubscribe, duplicate, unmatched, ignored, refused: a webhook request not signed by the provider).",
		}, []string{"source", "outcome"}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(p.metrics); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				p.metrics = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return p, nil
}

// Event is one piece of feedback about one subscriber.
type Event struct {
	Source string // imap, ses, postmark, sendgrid, mailgun
	// Ref identifies the report at its source, so a repeat counts once.
	Ref          string
	Kind         string // FeedbackHard, FeedbackSoft, FeedbackComplaint, FeedbackUnsubscribe
	SubscriberID int64
	SendID       string // "" when unknown
	Detail       string // the server's reply or the report type (addresses are removed)
}

// Outcome says what Crier did with one message or event.
type Outcome struct {
	// Action is bounced, soft_bounce, suppressed (after soft bounces),
	// unsubscribed, recorded (the subscriber had already left), duplicate,
	// ignored (not feedback: an auto-reply, a delay, a person's mail) or
	// unmatched (feedback naming no subscriber Crier can trust).
	Action       string `json:"action"`
	Kind         Kind   `json:"kind,omitempty"`
	SubscriberID int64  `json:"subscriber_id,omitempty"`
	SendID       string `json:"send_id,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// Apply records ev and changes the subscriber's status accordingly.
func (p *Processor) Apply(ctx context.Context, ev Event) (Outcome, error) {
	out := Outcome{SubscriberID: ev.SubscriberID, SendID: ev.SendID}
	now := p.opts.Now()
	isNew, err := record(ctx, p.opts.DB, ev.Source+":"+ev.Ref, ev.Source, ev.Kind, ev.SubscriberID, ev.SendID, ev.Detail, now)
	if err != nil {
		return out, err
	}
	if !isNew {
		out.Action = "duplicate"
		p.metrics.WithLabelValues(ev.Source, "duplicate").Inc()
		return out, nil
	}
	p.metrics.WithLabelValues(ev.Source, ev.Kind).Inc()
	sub, err := p.opts.Subscribers.Get(ctx, ev.SubscriberID)
	if errors.Is(err, subscribers.ErrNotFound) {
		out.Action = "ignored"
		out.Reason = "the subscriber was erased"
		return out, nil
	}
	if err != nil {
		return out, err
	}
	active := sub.Status == subscribers.Confirmed || sub.Status == subscribers.Unconfirmed
	detail := redactAddresses(ev.Detail)
	out.Action = "recorded"
	switch ev.Kind {
	case FeedbackHard:
		if active {
			out.Action = "bounced"
			err = p.opts.Subscribers.SetStatus(ctx, sub.ID, subscribers.Bounced, strings.TrimSpace("hard bounce, via "+ev.Source+": "+detail))
		}
	case FeedbackSoft:
		out.Action = "soft_bounce"
		n, cerr := softCount(ctx, p.opts.DB, sub.ID, now.Add(-p.opts.Config.softWindow()))
		if cerr != nil {
			return out, cerr
		}
		if active && n >= p.opts.Config.softLimit() {
			out.Action = "suppressed"
			err = p.opts.Subscribers.SetStatus(ctx, sub.ID, subscribers.Bounced,
				fmt.Sprintf("%d soft bounces within %s, via %s; the last: %s", n, p.opts.Config.softWindow(), ev.Source, detail))
		}
	case FeedbackRefused:
		// The receiving server refused Crier's sending (its IP, domain,
		// authentication, rate or content): not this supporter's
		// problem, so it never counts toward their suppression; the
		// send's status tells the organisers (SendCounts).
		out.Action = "sending_problem"
	case FeedbackComplaint:
		if active {
			out.Action = "unsubscribed"
			// "complaint" first: per-send counts tell complaints from
			// unsubscribes by it.
			err = p.opts.Subscribers.SetStatus(ctx, sub.ID, subscribers.Unsubscribed, strings.TrimSpace("complaint: marked as spam ("+ev.Source+") "+detail))
		}
	case FeedbackUnsubscribe:
		if active {
			out.Action = "unsubscribed"
			err = p.opts.Subscribers.SetStatus(ctx, sub.ID, subscribers.Unsubscribed, "unsubscribe by mail ("+ev.Source+")")
		}
	default:
		return out, fmt.Errorf("unknown feedback kind %q", ev.Kind)
	}
	if err != nil {
		return out, err
	}
	p.opts.Logger.Info("newsletter feedback", "source", ev.Source, "kind", ev.Kind, "subscriber", sub.ID, "send", ev.SendID, "action", out.Action)
	return out, nil
}

// Decision is what Crier makes of one message of the bounce mailbox.
type Decision struct {
	// Evidence is the report's line about the subscriber: its class,
	// reason, status, diagnostic and the rule that decided.
	Evidence *Recipient `json:"evidence,omitempty"`
	// Would says in words what Crier does with it.
	Would        string      `json:"would"`
	Kind         Kind        `json:"kind"`
	Recipients   []Recipient `json:"recipients,omitempty"`
	FeedbackType string      `json:"feedback_type,omitempty"`
	// Feedback is what is recorded (FeedbackHard, FeedbackSoft,
	// FeedbackComplaint, FeedbackUnsubscribe), "" when nothing is.
	Feedback     string `json:"feedback,omitempty"`
	SubscriberID int64  `json:"subscriber_id,omitempty"`
	SendID       string `json:"send_id,omitempty"`
	Detail       string `json:"detail,omitempty"`
	// Action is ignored or unmatched when nothing is recorded, with Reason.
	Action string `json:"action,omitempty"`
	Reason string `json:"reason,omitempty"`
	ref    string
}

// Decide reads one message and says what HandleMessage would do with it,
// changing nothing. Only a signed address of the mailbox, or Crier's
// Message-ID together with the subscriber's own address in the report,
// identifies a subscriber: whatever else a message says, it cannot make
// Crier act on someone it was not about.
func (p *Processor) Decide(ctx context.Context, raw []byte) (Decision, error) {
	d, err := p.decide(ctx, raw)
	d.Explain(p.opts.Config)
	return d, err
}

func (p *Processor) decide(ctx context.Context, raw []byte) (Decision, error) {
	rep, err := Parse(raw)
	if err != nil {
		return Decision{Kind: KindOther, Action: "ignored", Reason: err.Error()}, nil
	}
	d := Decision{Kind: rep.Kind, Recipients: rep.Recipients, FeedbackType: rep.FeedbackType, ref: rep.MessageID}
	if d.ref == "" {
		h := sha256.Sum256(raw)
		d.ref = "sha256:" + hex.EncodeToString(h[:16])
	}
	switch rep.Kind {
	case KindBounce:
		d.Feedback = FeedbackSoft
	case KindComplaint:
		d.Feedback, d.Detail = FeedbackComplaint, "feedback-type "+rep.FeedbackType
	default:
		// A mail to a signed unsubscribe address, by a person or a mail
		// program's unsubscribe button, whatever its subject.
		if t, ok := p.unsubscribeToken(raw); ok {
			d.Feedback, d.SubscriberID = FeedbackUnsubscribe, t.id
			return d, nil
		}
		d.Action, d.Reason = "ignored", "not a bounce, complaint or unsubscribe ("+string(rep.Kind)+")"
		return d, nil
	}
	sub, sendID, rcpt, why, err := p.match(ctx, rep)
	if err != nil {
		return d, err
	}
	if sub == 0 {
		d.Feedback, d.Action, d.Reason = "", "unmatched", why
		return d, nil
	}
	d.SubscriberID, d.SendID = sub, sendID
	if rep.Kind == KindBounce {
		switch {
		case rcpt.Class == ClassHard:
			d.Feedback = FeedbackHard
		case rcpt.Class == ClassSoft && rcpt.Reason.Sending():
			d.Feedback = FeedbackRefused
		}
		d.Evidence = &rcpt
		d.Detail = bounceDetail(rcpt)
	}
	return d, nil
}

// bounceDetail is what is stored about a bounce and shown in the
// supporter's history: the reason in plain words, then the evidence. A
// refusal of Crier's sending starts with the recipient's domain, which
// SendCounts groups by.
func bounceDetail(r Recipient) string {
	reason := r.Reason
	if reason == "" {
		reason = ReasonUndefined
	}
	ev := strings.TrimSpace(r.Status + " " + r.Diagnostic)
	s := fmt.Sprintf("%s (%s; %s)", reason.Plain(), reason, r.Rule)
	if r.Class == ClassSoft && reason.Sending() {
		_, domain, _ := strings.Cut(r.Address, "@")
		s = "refused by " + strings.ToLower(domain) + " " + s
	}
	if ev != "" {
		s += ": " + ev
	}
	return s
}

// Explain fills d.Would and each recipient's Would: what Crier does.
func (d *Decision) Explain(c Config) {
	soft := fmt.Sprintf("count a soft bounce (the supporter is suppressed after %d within %s)", c.softLimit(), c.softWindow())
	for i := range d.Recipients {
		d.Recipients[i].Would = wouldFor(d.Recipients[i], soft)
	}
	switch {
	case d.Feedback == FeedbackHard:
		d.Would = "mark the supporter bounced: " + d.Evidence.Reason.Plain()
	case d.Feedback == FeedbackSoft:
		d.Would = soft
	case d.Feedback == FeedbackRefused:
		d.Would = "record a refusal of Crier's sending (" + d.Evidence.Reason.Plain() + "): shown to organisers on the send, not counted against the supporter"
	case d.Feedback == FeedbackComplaint, d.Feedback == FeedbackUnsubscribe:
		d.Would = "unsubscribe the supporter"
	default:
		d.Would = "nothing: " + d.Reason
	}
}

func wouldFor(r Recipient, soft string) string {
	switch {
	case r.Class == ClassHard:
		return "mark bounced"
	case r.Class == ClassSoft && r.Action == "delayed":
		return "nothing yet (still being retried)"
	case r.Class == ClassSoft && r.Reason.Sending():
		return "not counted against the supporter: a refusal of Crier's sending, reported on the send"
	case r.Class == ClassSoft:
		return soft
	case r.Class == ClassComplaint:
		return "unsubscribe"
	}
	return "nothing"
}

// HandleMessage reads one message from the bounce mailbox and acts on it.
func (p *Processor) HandleMessage(ctx context.Context, raw []byte) (Outcome, error) {
	d, err := p.Decide(ctx, raw)
	if err != nil {
		return Outcome{}, err
	}
	if d.Feedback == "" {
		p.metrics.WithLabelValues("imap", d.Action).Inc()
		if d.Action == "unmatched" {
			p.opts.Logger.Warn("bounce mailbox: feedback about no known subscriber", "kind", d.Kind, "why", d.Reason)
		}
		return Outcome{Action: d.Action, Kind: d.Kind, Reason: d.Reason}, nil
	}
	o, err := p.Apply(ctx, Event{Source: "imap", Ref: d.ref, Kind: d.Feedback, SubscriberID: d.SubscriberID, SendID: d.SendID, Detail: d.Detail})
	o.Kind = d.Kind
	return o, err
}

// unsubscribeToken finds a signed unsubscribe address among the message's
// own recipients (not in its body: a forwarded newsletter carries one).
func (p *Processor) unsubscribeToken(raw []byte) (token, bool) {
	if p.opts.Addresses == nil {
		return token{}, false
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return token{}, false
	}
	var hdrs strings.Builder
	for _, k := range []string{"To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"} {
		for _, v := range msg.Header[k] {
			hdrs.WriteString(v + "\n")
		}
	}
	var found []token
	for _, t := range p.opts.Addresses.findTokens(hdrs.String()) {
		if t.kind == 'u' {
			found = append(found, t)
		}
	}
	if len(found) != 1 {
		return token{}, false
	}
	return found[0], true
}

// match finds the one subscriber a bounce or complaint is about, the send
// it answers, and the report's line about them.
func (p *Processor) match(ctx context.Context, rep *Report) (int64, string, Recipient, string, error) {
	ids := map[int64]bool{}
	sendHash := ""
	if p.opts.Addresses != nil {
		for _, t := range p.opts.Addresses.findTokens(rep.text) {
			ids[t.id] = true
			if t.sendHash != "" {
				sendHash = t.sendHash
			}
		}
	}
	signed := len(ids) > 0
	if !signed {
		for _, m := range p.msgID.FindAllStringSubmatch(rep.text, 20) {
			id, err := strconv.ParseInt(m[2], 10, 64)
			if err != nil || id <= 0 {
				continue
			}
			ids[id] = true
			sendHash = strings.ToLower(m[1])
		}
	}
	switch {
	case len(ids) == 0:
		return 0, "", Recipient{}, "no signed return path and no Crier Message-ID in it", nil
	case len(ids) > 1:
		return 0, "", Recipient{}, fmt.Sprintf("it names %d different subscribers", len(ids)), nil
	}
	var id int64
	for id = range ids { // the only one
	}
	sub, err := p.opts.Subscribers.Get(ctx, id)
	if errors.Is(err, subscribers.ErrNotFound) {
		return 0, "", Recipient{}, "its subscriber is not on the list (erased?)", nil
	}
	if err != nil {
		return 0, "", Recipient{}, "", err
	}
	rcpt, found := recipientFor(rep, sub.Email)
	if !signed && !found {
		// A Message-ID is guessable; the report must name the address too.
		return 0, "", Recipient{}, "the report's Message-ID is Crier's, but it does not name that subscriber's address", nil
	}
	sendID, err := p.opts.Sends.ByHash(ctx, sendHash)
	if err != nil {
		return 0, "", Recipient{}, "", err
	}
	return id, sendID, rcpt, "", nil
}

// recipientFor picks the report's line about addr. When the report names
// other addresses only (a forward, a rewritten address), the line used is
// the failed one if there is exactly one, else a soft one: an ambiguous
// report never hard-bounces anyone.
func recipientFor(rep *Report, addr string) (Recipient, bool) {
	addr = strings.ToLower(addr)
	var failed []Recipient
	for _, r := range rep.Recipients {
		if r.Address == addr {
			return r, true
		}
		if r.Action == "failed" {
			failed = append(failed, r)
		}
	}
	if len(failed) == 1 {
		return failed[0], false
	}
	return Recipient{Action: "failed"}, false
}
