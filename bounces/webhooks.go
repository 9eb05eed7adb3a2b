package bounces

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fetcher retrieves an https URL (the SNS signing certificate, an SNS
// subscription confirmation). The daemon passes its guarded HTTP client;
// tests pass a fake that never reaches the network.
type Fetcher func(ctx context.Context, url string) ([]byte, error)

// HTTPFetcher fetches through client (the daemon's guarded client),
// following no redirect: the URL was checked, where it would lead was not.
func HTTPFetcher(client *http.Client) Fetcher {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client = &c
	return func(ctx context.Context, u string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		return io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	}
}

// HookOptions configure the webhook handlers.
type HookOptions struct {
	Config    Webhooks
	Processor *Processor
	// Fetch gets SNS certificates and confirms SNS subscriptions.
	Fetch  Fetcher
	Now    func() time.Time
	Logger *slog.Logger
}

// Hooks serves the providers' webhooks.
type Hooks struct {
	o        HookOptions
	sendgrid *ecdsa.PublicKey
	certs    sync.Map // SNS certificate URL -> *rsa.PublicKey
	used     *usedKeys

	mu         sync.Mutex
	lastLogged map[string]time.Time
}

// logRefusal reports whether a refusal by provider may be logged now.
func (h *Hooks) logRefusal(provider string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now()
	if now.Sub(h.lastLogged[provider]) < time.Minute {
		return false
	}
	h.lastLogged[provider] = now
	return true
}

// ReplayWindow is how far a signed webhook's own timestamp may be from
// now; older (or future) requests are refused as replays.
const ReplayWindow = 15 * time.Minute

// snsReplayWindow is longer: SNS retries a delivery with its original
// timestamp for up to an hour.
const snsReplayWindow = time.Hour

// NewHooks returns the handlers for the providers Config names.
func NewHooks(o HookOptions) (*Hooks, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("component", "webhooks")
	if o.Processor == nil {
		return nil, errors.New("webhooks: the bounce processor is required")
	}
	h := &Hooks{o: o, used: &usedKeys{db: o.Processor.opts.DB}, lastLogged: map[string]time.Time{}}
	if k := o.Config.SendGrid.PublicKey; k != "" {
		key, err := parseECDSAKey(k)
		if err != nil {
			return nil, fmt.Errorf("channels.email.bounces.webhooks.sendgrid.public_key: %w", err)
		}
		h.sendgrid = key
	}
	return h, nil
}

// Mount adds each configured provider's route (POST /webhooks/NAME) to mux.
// Providers without a secret get no route.
func (h *Hooks) Mount(mux interface {
	Handle(pattern string, handler http.Handler)
}) []string {
	var names []string
	add := func(name string, on bool, fn func(*http.Request, []byte) (int, []Outcome, error)) {
		if on {
			mux.Handle("POST /webhooks/"+name, h.handler(name, fn))
			names = append(names, name)
		}
	}
	c := h.o.Config
	add("ses", len(c.SES.TopicARNs) > 0 && h.o.Fetch != nil, h.ses)
	add("postmark", c.Postmark.Password.IsSet(), h.postmark)
	add("sendgrid", h.sendgrid != nil, h.sendgridEvents)
	add("mailgun", c.Mailgun.SigningKey.IsSet(), h.mailgun)
	return names
}

const maxWebhookBody = 1 << 20

// errUnauthorized is a request that is not the provider's: unsigned,
// forged, or a replay.
var errUnauthorized = errors.New("not signed by the provider")

func (h *Hooks) handler(name string, fn func(*http.Request, []byte) (int, []Outcome, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		status, outs, err := fn(r, body)
		if err != nil {
			h.o.Processor.metrics.WithLabelValues(name, "refused").Inc()
			// At most one line a minute per provider: a flood of forged
			// requests must not flood the log.
			if h.logRefusal(name) {
				h.o.Logger.Warn("webhook refused (further refusals this minute are only counted in crier_newsletter_feedback_total{outcome=\"refused\"})", "provider", name, "status", status, "err", err)
			}
			if errors.Is(err, errUnauthorized) {
				w.Header().Set("WWW-Authenticate", `Basic realm="crier webhooks"`)
			}
			http.Error(w, http.StatusText(status)+": "+err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"outcomes": outs})
	})
}

// apply runs the processor on each event; a database error answers 500
// so that the provider retries.
func (h *Hooks) apply(ctx context.Context, evs []ProviderEvent) (int, []Outcome, error) {
	outs := []Outcome{}
	for _, ev := range evs {
		if ev.Email == "" || ev.Ref == "" {
			outs = append(outs, Outcome{Action: "ignored", Reason: "no recipient or id"})
			continue
		}
		o, err := h.o.Processor.ApplyProvider(ctx, ev)
		if err != nil {
			h.o.Logger.Error("recording webhook event failed", "provider", ev.Source, "err", err)
			return http.StatusInternalServerError, nil, errors.New("recording the event failed; try again")
		}
		outs = append(outs, o)
	}
	return http.StatusOK, outs, nil
}

// claim records a request's one-time key as used for keep (longer than
// the request would be accepted) and reports whether it may be processed:
// the key's first use on this replica or any other, before or after a
// restart, or the retry of a failed request with the same content.
func (h *Hooks) claim(ctx context.Context, provider, key, content string, keep time.Duration) (bool, error) {
	now := h.o.Now()
	first, err := h.used.claim(ctx, provider, key, content, now, now.Add(keep))
	if err != nil {
		h.o.Logger.Error("webhook: checking for a replay failed", "provider", provider, "err", err)
	}
	return first, err
}

// applyClaimed applies evs for a request whose key was claimed. When they
// cannot be recorded (500) the provider retries, and its retry must be
// processed, not refused as a replay: the key is reopened for it.
func (h *Hooks) applyClaimed(ctx context.Context, provider, key string, evs []ProviderEvent) (int, []Outcome, error) {
	status, outs, err := h.apply(ctx, evs)
	if status >= http.StatusInternalServerError {
		if ferr := h.used.failed(context.WithoutCancel(ctx), provider, key); ferr != nil {
			h.o.Logger.Error("webhook: the provider's retry will be refused as a replay", "provider", provider, "err", ferr)
		}
	}
	return status, outs, err
}

// applyOnce applies evs of a request the first time its key is seen. A
// repeat has the same content (the key is signed with it, or is its
// Postmark record id): a provider's retry or a replay. It changes nothing
// and is answered as a duplicate, so that the provider stops retrying.
func (h *Hooks) applyOnce(ctx context.Context, provider, key, content string, keep time.Duration, evs []ProviderEvent) (int, []Outcome, error) {
	first, err := h.claim(ctx, provider, key, content, keep)
	if err != nil {
		return http.StatusInternalServerError, nil, errors.New("checking for a replay failed; try again")
	}
	if !first {
		h.o.Processor.metrics.WithLabelValues(provider, "duplicate").Inc()
		outs := make([]Outcome, len(evs))
		for i := range outs {
			outs[i] = Outcome{Action: "duplicate", Reason: "this request was received before"}
		}
		return http.StatusOK, outs, nil
	}
	return h.applyClaimed(ctx, provider, key, evs)
}

func (h *Hooks) fresh(t time.Time, window time.Duration) bool {
	d := h.o.Now().Sub(t)
	return d < window && d > -window
}

// --- Amazon SES through SNS ---

type snsMessage struct {
	Type             string
	MessageId        string
	Token            string
	TopicArn         string
	Subject          *string
	Message          string
	Timestamp        string
	SignatureVersion string
	Signature        string
	SigningCertURL   string
	SubscribeURL     string
}

// snsHost is what an SNS signing certificate or subscription URL's host
// must be: sns.REGION.amazonaws.com (.com.cn in China).
var snsHost = regexp.MustCompile(`^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`)

// snsCertPath is the path of SNS's signing certificates.
var snsCertPath = regexp.MustCompile(`^/SimpleNotificationService-[0-9A-Za-z]+\.pem$`)

// checkSNSURL refuses any URL that is not https on an SNS host.
func checkSNSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || !snsHost.MatchString(u.Hostname()) {
		return fmt.Errorf("%q is not an https URL on an sns.REGION.amazonaws.com host", raw)
	}
	return nil
}

// checkSNSCertURL also holds the path to SNS's certificate file name, so a
// request cannot make Crier fetch arbitrary pages of the host.
func checkSNSCertURL(raw string) error {
	if err := checkSNSURL(raw); err != nil {
		return err
	}
	if u, _ := url.Parse(raw); u.RawQuery != "" || !snsCertPath.MatchString(u.Path) {
		return fmt.Errorf("%q is not an SNS signing certificate (SimpleNotificationService-*.pem)", raw)
	}
	return nil
}

// stringToSign is the SNS signature's input (the same for versions 1 and 2).
func (m snsMessage) stringToSign() string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageId)
	switch m.Type {
	case "SubscriptionConfirmation", "UnsubscribeConfirmation":
		add("SubscribeURL", m.SubscribeURL)
		add("Timestamp", m.Timestamp)
		add("Token", m.Token)
	default:
		if m.Subject != nil {
			add("Subject", *m.Subject)
		}
		add("Timestamp", m.Timestamp)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.String()
}

func (h *Hooks) verifySNS(ctx context.Context, m snsMessage) error {
	allowed := false
	for _, arn := range h.o.Config.SES.TopicARNs {
		allowed = allowed || arn == m.TopicArn
	}
	if !allowed {
		return fmt.Errorf("%w: topic %q is not in webhooks.ses.topic_arns", errUnauthorized, m.TopicArn)
	}
	if err := checkSNSCertURL(m.SigningCertURL); err != nil {
		return fmt.Errorf("%w: signing certificate: %v", errUnauthorized, err)
	}
	ts, err := time.Parse(time.RFC3339, m.Timestamp)
	if err != nil || !h.fresh(ts, snsReplayWindow) {
		return fmt.Errorf("%w: timestamp %q is missing or more than an hour away (a replay?)", errUnauthorized, m.Timestamp)
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("%w: no signature", errUnauthorized)
	}
	key, err := h.snsKey(ctx, m.SigningCertURL)
	if err != nil {
		return err
	}
	var hash crypto.Hash
	var sum []byte
	switch m.SignatureVersion {
	case "1":
		s := sha1.Sum([]byte(m.stringToSign()))
		hash, sum = crypto.SHA1, s[:]
	case "2":
		s := sha256.Sum256([]byte(m.stringToSign()))
		hash, sum = crypto.SHA256, s[:]
	default:
		return fmt.Errorf("%w: signature version %q", errUnauthorized, m.SignatureVersion)
	}
	if err := rsa.VerifyPKCS1v15(key, hash, sum, sig); err != nil {
		return fmt.Errorf("%w: the signature does not match", errUnauthorized)
	}
	return nil
}

// snsKey fetches (once) the signing certificate at a checked SNS URL.
// Trust comes from the https fetch from Amazon's host, as in AWS's own
// validators.
func (h *Hooks) snsKey(ctx context.Context, certURL string) (*rsa.PublicKey, error) {
	if k, ok := h.certs.Load(certURL); ok {
		return k.(*rsa.PublicKey), nil
	}
	data, err := h.o.Fetch(ctx, certURL)
	if err != nil {
		return nil, fmt.Errorf("fetching the SNS signing certificate: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("the SNS signing certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the SNS signing certificate: %w", err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the SNS signing certificate has no RSA key")
	}
	now := h.o.Now()
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, errors.New("the SNS signing certificate has expired")
	}
	h.certs.Store(certURL, key)
	return key, nil
}

// sesNotification is the SES bounce/complaint notification (or event
// publishing record) in an SNS message.
type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		FeedbackID        string `json:"feedbackId"`
		Timestamp         string `json:"timestamp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		FeedbackID            string `json:"feedbackId"`
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Mail struct {
		MessageID string `json:"messageId"`
		Source    string `json:"source"`
		Headers   []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

func (h *Hooks) ses(r *http.Request, body []byte) (int, []Outcome, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return http.StatusBadRequest, nil, fmt.Errorf("not an SNS message: %v", err)
	}
	if err := h.verifySNS(r.Context(), m); err != nil {
		if errors.Is(err, errUnauthorized) {
			return http.StatusUnauthorized, nil, err
		}
		return http.StatusBadGateway, nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		if err := checkSNSURL(m.SubscribeURL); err != nil {
			return http.StatusBadRequest, nil, fmt.Errorf("subscribe URL: %v", err)
		}
		if _, err := h.o.Fetch(r.Context(), m.SubscribeURL); err != nil {
			return http.StatusBadGateway, nil, fmt.Errorf("confirming the SNS subscription: %v", err)
		}
		h.o.Logger.Info("SNS subscription confirmed", "topic", m.TopicArn)
		return http.StatusOK, []Outcome{{Action: "subscription_confirmed"}}, nil
	case "UnsubscribeConfirmation":
		h.o.Logger.Warn("SNS says the bounce topic was unsubscribed from Crier", "topic", m.TopicArn)
		return http.StatusOK, nil, nil
	case "Notification":
	default:
		return http.StatusBadRequest, nil, fmt.Errorf("unknown SNS message type %q", m.Type)
	}
	var n sesNotification
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return http.StatusBadRequest, nil, fmt.Errorf("the SNS message is not an SES notification: %v", err)
	}
	hints := []string{n.Mail.Source, n.Mail.CommonHeaders.MessageID}
	for _, hd := range n.Mail.Headers {
		if strings.EqualFold(hd.Name, "Message-ID") || strings.EqualFold(hd.Name, "Return-Path") {
			hints = append(hints, hd.Value)
		}
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	var evs []ProviderEvent
	switch typ {
	case "Bounce":
		for _, rc := range n.Bounce.BouncedRecipients {
			evs = append(evs, providerEvent("ses", m.MessageId+":"+strings.ToLower(rc.EmailAddress), hints, sesBounce(n, rc.EmailAddress, rc.Status, rc.DiagnosticCode)))
		}
	case "Complaint":
		if n.Complaint.ComplaintFeedbackType == "not-spam" {
			return http.StatusOK, []Outcome{{Action: "ignored", Reason: "not-spam feedback"}}, nil
		}
		for _, rc := range n.Complaint.ComplainedRecipients {
			evs = append(evs, ProviderEvent{Source: "ses", Ref: m.MessageId + ":" + strings.ToLower(rc.EmailAddress), Kind: FeedbackComplaint, Email: rc.EmailAddress,
				Hints: hints, Detail: "feedback-type " + n.Complaint.ComplaintFeedbackType})
		}
	default:
		return http.StatusOK, []Outcome{{Action: "ignored", Reason: "SES " + typ}}, nil
	}
	// SNS accepts a message for an hour either side of its timestamp.
	return h.applyOnce(r.Context(), "ses", m.MessageId, "", 2*snsReplayWindow, evs)
}

// --- Postmark ---

// postmarkKeep is how long a Postmark record id is remembered.
const postmarkKeep = 24 * time.Hour

type postmarkRecord struct {
	RecordType        string
	ID                json.Number
	Type              string
	TypeCode          int
	MessageID         string
	Email             string
	Recipient         string
	Details           string
	Description       string
	SuppressSending   bool
	SuppressionReason string
	BouncedAt         string
}

func (h *Hooks) postmark(r *http.Request, body []byte) (int, []Outcome, error) {
	c := h.o.Config.Postmark
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(c.Username)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(c.Password.Reveal())) != 1 {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: wrong or missing basic auth", errUnauthorized)
	}
	var rec postmarkRecord
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil {
		return http.StatusBadRequest, nil, fmt.Errorf("not a Postmark webhook: %v", err)
	}
	ev := ProviderEvent{Source: "postmark", Email: rec.Email, Hints: []string{rec.MessageID}}
	switch rec.RecordType {
	case "Bounce":
		switch rec.Type {
		case "HardBounce", "BadEmailAddress", "Transient", "SoftBounce", "DnsError":
			ev = providerEvent("postmark", "", ev.Hints, providerBounce{email: rec.Email, diag: rec.Details, who: "Postmark", label: rec.Type,
				fallback: postmarkReason[rec.Type], permanent: rec.Type == "HardBounce" || rec.Type == "BadEmailAddress"})
		case "SpamComplaint":
			ev.Kind = FeedbackComplaint
		case "Unsubscribe":
			ev.Kind = FeedbackUnsubscribe
		default: // auto-responders, challenge mails, blocks by the sender's content
			return http.StatusOK, []Outcome{{Action: "ignored", Reason: "Postmark " + rec.Type}}, nil
		}
		ev.Ref = "bounce:" + rec.ID.String()
		if ev.Kind == FeedbackComplaint || ev.Kind == FeedbackUnsubscribe {
			ev.Detail = rec.Type + " " + rec.Details
		}
	case "SpamComplaint":
		ev.Ref, ev.Kind, ev.Detail = "complaint:"+rec.ID.String(), FeedbackComplaint, rec.Type
	case "SubscriptionChange":
		if !rec.SuppressSending || rec.SuppressionReason != "ManualSuppression" {
			return http.StatusOK, []Outcome{{Action: "ignored", Reason: "Postmark subscription change " + rec.SuppressionReason}}, nil
		}
		ev.Email, ev.Kind = rec.Recipient, FeedbackUnsubscribe
		ev.Ref = "unsubscribe:" + rec.MessageID + ":" + strings.ToLower(rec.Recipient)
	default:
		return http.StatusOK, []Outcome{{Action: "ignored", Reason: "Postmark " + rec.RecordType}}, nil
	}
	if rec.ID.String() == "" && rec.RecordType != "SubscriptionChange" {
		ev.Ref = ""
	}
	if ev.Ref == "" {
		return h.apply(r.Context(), []ProviderEvent{ev})
	}
	// Postmark signs nothing and sends no timestamp: its record id is the
	// one-time key, kept longer than Postmark goes on retrying.
	return h.applyOnce(r.Context(), "postmark", ev.Ref, string(body), postmarkKeep, []ProviderEvent{ev})
}

// --- SendGrid ---

// VerifySendGrid checks SendGrid's Event Webhook signature: ECDSA P-256
// over SHA-256 of the timestamp header followed by the raw body.
func VerifySendGrid(key *ecdsa.PublicKey, body []byte, signature, timestamp string) bool {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || timestamp == "" {
		return false
	}
	sum := sha256.Sum256(append([]byte(timestamp), body...))
	return ecdsa.VerifyASN1(key, sum[:], sig)
}

type sendgridEvent struct {
	Email     string `json:"email"`
	Event     string `json:"event"`
	Type      string `json:"type"` // bounce or blocked, for a bounce event
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	SGEventID string `json:"sg_event_id"`
	SMTPID    string `json:"smtp-id"` // the Message-ID Crier set
}

func (h *Hooks) sendgridEvents(r *http.Request, body []byte) (int, []Outcome, error) {
	ts := r.Header.Get("X-Twilio-Email-Event-Webhook-Timestamp")
	if !VerifySendGrid(h.sendgrid, body, r.Header.Get("X-Twilio-Email-Event-Webhook-Signature"), ts) {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: the Event Webhook signature does not match", errUnauthorized)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !h.fresh(time.Unix(sec, 0), ReplayWindow) {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: timestamp %q is more than %s away (a replay?)", errUnauthorized, ts, ReplayWindow)
	}
	var events []sendgridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		return http.StatusBadRequest, nil, fmt.Errorf("not a SendGrid event list: %v", err)
	}
	var evs []ProviderEvent
	for _, e := range events {
		ev := ProviderEvent{Source: "sendgrid", Ref: e.SGEventID, Email: e.Email, Hints: []string{e.SMTPID}, Detail: strings.TrimSpace(e.Status + " " + e.Reason)}
		switch e.Event {
		case "bounce":
			// "blocked" is SendGrid's word for a refusal of the sender's
			// reputation or content; the reply still decides.
			b := providerBounce{email: e.Email, status: e.Status, diag: e.Reason, who: "SendGrid", label: e.Type, permanent: e.Type != "blocked"}
			if e.Type == "blocked" {
				b.fallback = ReasonBlocked
			}
			ev = providerEvent("sendgrid", e.SGEventID, ev.Hints, b)
		case "spamreport":
			ev.Kind = FeedbackComplaint
		case "unsubscribe", "group_unsubscribe":
			ev.Kind = FeedbackUnsubscribe
		default: // processed, delivered, deferred, dropped, open, click
			continue
		}
		evs = append(evs, ev)
	}
	// What SendGrid signed (timestamp and body) is the key, not the
	// signature: an ECDSA signature can be rewritten into another valid one.
	return h.applyOnce(r.Context(), "sendgrid", ts+"\n"+string(body), "", 2*ReplayWindow, evs)
}

// --- Mailgun ---

// VerifyMailgun checks a Mailgun webhook signature: hex HMAC-SHA256 under
// the webhook signing key of timestamp followed by token.
func VerifyMailgun(key []byte, timestamp, token, signature string) bool {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp + token))
	want := hex.EncodeToString(m.Sum(nil))
	return timestamp != "" && token != "" && hmac.Equal([]byte(want), []byte(strings.ToLower(signature)))
}

type mailgunBody struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		ID        string `json:"id"`
		Event     string `json:"event"`
		Severity  string `json:"severity"`
		Reason    string `json:"reason"`
		Recipient string `json:"recipient"`
		Envelope  struct {
			Sender string `json:"sender"`
		} `json:"envelope"`
		Message struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Code        int    `json:"code"`
			Message     string `json:"message"`
			Description string `json:"description"`
		} `json:"delivery-status"`
	} `json:"event-data"`
}

func (h *Hooks) mailgun(r *http.Request, body []byte) (int, []Outcome, error) {
	var b mailgunBody
	if err := json.Unmarshal(body, &b); err != nil {
		return http.StatusBadRequest, nil, fmt.Errorf("not a Mailgun webhook: %v", err)
	}
	s := b.Signature
	if !VerifyMailgun([]byte(h.o.Config.Mailgun.SigningKey.Reveal()), s.Timestamp, s.Token, s.Signature) {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: the signature does not match", errUnauthorized)
	}
	sec, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil || !h.fresh(time.Unix(sec, 0), ReplayWindow) {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: timestamp %q is more than %s away (a replay?)", errUnauthorized, s.Timestamp, ReplayWindow)
	}
	// The body is not signed: a used token is refused whatever comes with
	// it (but the retry of a failed request, the same body), before the
	// event is even read.
	first, err := h.claim(r.Context(), "mailgun", s.Token, string(body), 2*ReplayWindow)
	if err != nil {
		return http.StatusInternalServerError, nil, errors.New("checking for a replay failed; try again")
	}
	if !first {
		return http.StatusUnauthorized, nil, fmt.Errorf("%w: token already used (a replay)", errUnauthorized)
	}
	e := b.EventData
	ev := ProviderEvent{Source: "mailgun", Ref: e.ID, Email: e.Recipient, Hints: []string{e.Message.Headers.MessageID, e.Envelope.Sender},
		Detail: strings.TrimSpace(fmt.Sprintf("%d %s %s", e.DeliveryStatus.Code, e.DeliveryStatus.Message, e.DeliveryStatus.Description))}
	switch e.Event {
	case "failed":
		// suppress-bounce: Mailgun did not send, the address being on its
		// bounce list: no reply to judge, and no new evidence.
		permanent := e.Severity == "permanent" && e.Reason != "suppress-bounce"
		ev = providerEvent("mailgun", e.ID, ev.Hints, providerBounce{email: e.Recipient, diag: ev.Detail, who: "Mailgun", label: e.Severity + " " + e.Reason, permanent: permanent})
	case "complained":
		ev.Kind = FeedbackComplaint
	case "unsubscribed":
		ev.Kind = FeedbackUnsubscribe
	default:
		return http.StatusOK, []Outcome{{Action: "ignored", Reason: "Mailgun " + e.Event}}, nil
	}
	return h.applyClaimed(r.Context(), "mailgun", s.Token, []ProviderEvent{ev})
}
