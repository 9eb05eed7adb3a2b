package newsletter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/logrepeat"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/sqldb"
	"github.com/crierhq/crier/subscribers"
)

// Limits of the retry policy.
const (
	// tempTriesInline is how often a 4xx is retried on the spot (with
	// backoff) before the recipient is put back for a later pass.
	tempTriesInline = 3
	// maxRecipientAttempts is how many times a recipient refused with 4xx is
	// tried in all before being recorded as failed.
	maxRecipientAttempts = 6
	// maxRefusedInARow consecutive permanent refusals mean the server is
	// refusing us (relay denied, sender blocked), not those recipients.
	maxRefusedInARow = 10
	// recheckAfter is how old the "still subscribed?" answer may be when
	// the message goes out.
	recheckAfter = time.Second
	// checkpointWindow is how many accepted messages an SMTP connection
	// may have whose checkpoints are not committed yet, on PostgreSQL: the
	// connection only ends its next message while fewer are pending. It is
	// the in-flight bound of a replica killed mid-send (per connection:
	// those recipients may get a second copy). One would make every
	// message wait for a commit of its own; four let a commit carry the
	// checkpoints of several messages per connection, which halved
	// PostgreSQL's CPU per message (docs/BENCHMARKS.md).
	checkpointWindow = 4
)

// Option tunes New.
type Option func(*options)

type options struct {
	reg     prometheus.Registerer
	now     func() time.Time
	sleep   func(ctx context.Context, d time.Duration) error
	backoff time.Duration
	timeout time.Duration
	// metricsEvery is how old the progress snapshot may get (0: the
	// default); the benchmark sets 1ns to measure a query per scrape.
	metricsEvery time.Duration
	lease        time.Duration
	// probeMax and outageLimit time SMTP outages (outage.go).
	probeMax, outageLimit time.Duration
}

// WithRegisterer registers the newsletter metrics (messages by outcome, and
// per-send progress read from the ledger at most every
// promcache.DefaultEvery, whatever the scrape rate) with reg.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithClock makes the sender stamp the ledger and mail with now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithSleep replaces the waits of the rate limiter and retry backoff (tests).
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = sleep }
}

// WithRetryBackoff sets the first wait after a 4xx reply (default 2s; it
// doubles on each retry) or before the first probe of an SMTP outage (then
// doubling up to WithOutageProbe).
func WithRetryBackoff(d time.Duration) Option { return func(o *options) { o.backoff = d } }

// WithLease sets how long a replica's claim on recipients lasts without
// renewal (DefaultLease; tests shorten it).
func WithLease(d time.Duration) Option { return func(o *options) { o.lease = d } }

// WithSMTPTimeout bounds each SMTP command (default 60s).
func WithSMTPTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Sender sends newsletters and confirmation mails over SMTP. It implements
// channels.Sender, channels.Digester and subscribers.Mailer.
type Sender struct {
	f       *Formatter
	cfg     Config
	env     channels.Env
	subs    *subscribers.Store
	signer  *subscribers.Signer
	ledger  *ledger
	archive *archive.Store
	client  *gomail.Client
	dkim    *dkimSigner
	opts    options
	metrics *metrics
	log     *slog.Logger
	pacer   *pacer
	smtp    *smtpHealth
	// bounce makes each recipient's signed return path (VERP) and mailto
	// unsubscribe address of the bounce mailbox
	// (channels.email.bounces.address), so that what comes back names its
	// subscriber; nil without a bounce address.
	bounce *bounces.Addresses

	mu     sync.Mutex
	active map[string]bool
	// helping are the sends this replica helps with (share), each with
	// the way to stop helping and a channel closed when it has.
	helping map[string]helpRun
}

// New returns the newsletter formatter and its real sender. The sender
// creates its send ledger tables in env.DB.
func New(ctx context.Context, cfg Config, env channels.Env, subs *subscribers.Store, signer *subscribers.Signer, opts ...Option) (channels.Formatter, channels.Sender, error) {
	s, err := NewSender(ctx, cfg, env, subs, signer, opts...)
	if err != nil {
		return nil, nil, err
	}
	return s.f, s, nil
}

// NewSender is New returning the concrete sender.
func NewSender(ctx context.Context, cfg Config, env channels.Env, subs *subscribers.Store, signer *subscribers.Signer, opts ...Option) (*Sender, error) {
	o := options{now: time.Now, sleep: sleepCtx, backoff: 2 * time.Second, timeout: time.Minute,
		probeMax: DefaultOutageProbe, outageLimit: DefaultOutageLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if env.DB == nil || subs == nil || signer == nil {
		return nil, errors.New("email sender: the store, subscribers and link signer are required")
	}
	if cfg.From == "" {
		return nil, errors.New("email: channels.email.from must be set to send the newsletter")
	}
	if env.Campaign.PublicURL == "" {
		return nil, errors.New("email: http.public_url must be set to send the newsletter (every mail carries an unsubscribe link to it)")
	}
	f, err := newFormatter(cfg, env.Campaign)
	if err != nil {
		return nil, err
	}
	if cfg.CountsClicks() {
		f.clicks = signer
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	// Loops that retry (looking for sends to help with, renewing claims)
	// log a repeated error once during an outage, and a summary after.
	log = slog.New(logrepeat.New(log.Handler(), 0)).With("channel", "email")
	l, err := openLedger(ctx, env.DB, o.now, log)
	if err != nil {
		return nil, err
	}
	if o.lease > 0 {
		l.lease = o.lease
	}
	arch, err := archive.Open(ctx, env.DB)
	if err != nil {
		return nil, err
	}
	client, err := newClient(cfg, o.timeout)
	if err != nil {
		return nil, err
	}
	dk, err := cfg.dkimSigner()
	if err != nil {
		return nil, err
	}
	if dk != nil {
		dk.now = o.now
	}
	s := &Sender{f: f, cfg: cfg, env: env, subs: subs, signer: signer, ledger: l, archive: arch, client: client, dkim: dk, opts: o,
		log: log, active: map[string]bool{}, helping: map[string]helpRun{}}
	if s.bounce, err = BounceAddresses(cfg, signer); err != nil {
		return nil, err
	}
	s.pacer = &pacer{now: o.now, sleep: o.sleep}
	s.smtp = &smtpHealth{opts: &s.opts, log: log}
	if cfg.RatePerSecond > 0 {
		s.pacer.interval = time.Duration(float64(time.Second) / cfg.RatePerSecond)
	}
	s.metrics = newMetrics(o.reg, env.DB, o.metricsEvery)
	if env.Background != nil {
		go s.share(env.Background)
	}
	return s, nil
}

// newClient makes the go-mail client that holds the SMTP settings; each
// connection of a send is dialled from it.
func newClient(cfg Config, timeout time.Duration) (*gomail.Client, error) {
	// Validate refuses this too; checked again here because every path
	// that sends (the daemon, crier newsletter test) comes through here.
	if msg := cfg.SMTP.insecureProblem(); msg != "" {
		return nil, fmt.Errorf("email: channels.email.smtp.%s", msg)
	}
	host := cfg.SMTP.Host
	if host == "" {
		host = "localhost"
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithoutNoop()}
	port := cfg.SMTP.Port
	switch cfg.SMTP.TLS {
	case "tls":
		if port == 0 {
			port = 465
		}
		opts = append(opts, gomail.WithSSL())
	case "none":
		if port == 0 {
			port = 25
		}
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		if port == 0 {
			port = 587
		}
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	opts = append(opts, gomail.WithPort(port))
	if cfg.SMTP.Username != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if cfg.SMTP.TLS == "none" {
			// Chosen on purpose, and refused unless the server is this
			// machine or allow_insecure says so (insecureProblem): the
			// discovery would find no mechanism it allows in clear text.
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth),
			gomail.WithUsername(cfg.SMTP.Username), gomail.WithPassword(cfg.SMTP.Password.Reveal()))
	}
	c, err := gomail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("email: SMTP settings: %w", err)
	}
	return c, nil
}

func (s *Sender) concurrency() int {
	if s.cfg.Concurrency > 0 {
		return s.cfg.Concurrency
	}
	return DefaultConcurrency
}

// maxInFlight is how many recipients a killed process may have had
// accepted by the server without their checkpoint: one per connection with
// the journal file, checkpointWindow per connection on PostgreSQL.
func (s *Sender) maxInFlight() int {
	if s.ledger.d == sqldb.Postgres {
		return s.concurrency() * checkpointWindow
	}
	return s.concurrency()
}

// Send delivers the post's newsletter to every subscriber confirmed when the
// send first started. It returns nil once every recipient is sent, failed
// for good or skipped. When the job's deadline comes first (a long list, or
// rate caps), it stops taking new recipients a little before it, lets the
// messages in flight finish, and returns channels.RateLimited so the job is
// snoozed and resumed - without using up an attempt - from the ledger.
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	m, err := channels.BodyOf[*Message](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if m == nil {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("email: payload of %s has no message", d.PostID))
	}
	r, err := s.run(ctx, m, "post", d.PostID)
	r.Notes = m.notes
	return r, err
}

// Digest sends one digest of posts to every confirmed subscriber, once per
// digestID however often it is retried.
func (s *Sender) Digest(ctx context.Context, digestID string, posts []post.Post) (channels.Receipt, error) {
	p, err := s.f.FormatDigest(digestID, posts)
	if err != nil {
		return channels.Receipt{}, channels.Permanent(err)
	}
	m, err := channels.BodyOf[*Message](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	r, err := s.run(ctx, m, "digest", digestID)
	r.Notes = m.notes
	return r, err
}

// run is one attempt of a campaign send.
func (s *Sender) run(ctx context.Context, m *Message, kind, ref string) (channels.Receipt, error) {
	s.stopHelping(m.SendID) // the job's own attempt takes over here
	s.mu.Lock()
	if s.active[m.SendID] {
		s.mu.Unlock()
		return channels.Receipt{}, channels.RateLimited(fmt.Errorf("newsletter %s is already being sent", m.SendID), 30*time.Second)
	}
	s.active[m.SendID] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.active, m.SendID)
		s.mu.Unlock()
	}()
	log := s.log.With("send", m.SendID)
	// The journal first: what a dead attempt recorded there is folded into
	// the ledger before begin puts its unrecorded rows back.
	j, err := s.ledger.openJournal(ctx, m.SendID)
	if err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	defer func() {
		if err := j.close(context.WithoutCancel(ctx)); err != nil {
			log.Error("closing the send journal", "err", err)
		}
	}()
	reclaimed, err := s.ledger.begin(ctx, m.SendID, kind, ref, m.Subject, m.source, s.selection(kind, m))
	if err != nil {
		return channels.Receipt{}, err
	}
	// The archive holds the corrected original, not its correction mail.
	if kind != "correction" {
		if err := s.archiveWebVersion(ctx, m, kind); err != nil {
			// The archive is a courtesy: the send goes on without it.
			log.Error("archiving the newsletter's web version", "err", err)
		}
	}
	if reclaimed > 0 {
		log.Warn("resuming a send that stopped mid-way: recipients whose message was in flight are sent again (they may get a second copy, with the same Message-ID)",
			"in_hand", reclaimed, "max_in_flight", s.maxInFlight())
	}
	stopAt := time.Time{}
	if dl, ok := ctx.Deadline(); ok {
		margin := min(time.Until(dl)/5, 15*time.Second)
		stopAt = dl.Add(-margin)
	}
	for {
		r := s.pass(ctx, m, j, stopAt, log)
		switch {
		case r.abort != nil:
			return channels.Receipt{RemoteID: m.SendID}, r.abort
		case r.capWait > 0:
			return s.unfinished(ctx, m, r.capWait, "the hourly or daily rate cap is reached")
		case r.stopped:
			return s.unfinished(ctx, m, time.Second, "the attempt's time is up")
		case r.claimed == 0:
			c, err := s.ledger.counts(ctx, m.SendID)
			if err != nil {
				return channels.Receipt{}, err
			}
			if c[rcptPending] > 0 {
				next, err := s.ledger.nextTry(ctx, m.SendID)
				if err != nil {
					return channels.Receipt{}, err
				}
				return s.unfinished(ctx, m, max(next.Sub(s.opts.now()), time.Second), "some recipients wait for a retry")
			}
			if c[rcptSending] > 0 {
				// Other replicas are sending the last pages (or held
				// them when they died: their lease runs out, and the
				// next attempt takes them).
				return s.unfinished(ctx, m, time.Second, "other replicas are sending the last recipients (the job looks again in a second, and the send is done when they are)")
			}
			if err := s.ledger.finish(ctx, m.SendID); err != nil {
				return channels.Receipt{}, err
			}
			if err := s.ledger.removeJournal(ctx, m.SendID); err != nil {
				log.Warn("the send is done but its journal stays", "err", err)
			}
			log.Info("newsletter sent", "sent", c[rcptSent], "failed", c[rcptFailed], "skipped", c[rcptSkipped])
			return channels.Receipt{RemoteID: m.SendID}, nil
		}
	}
}

// archiveWebVersion puts the newsletter in the public archive (once: a
// resumed send leaves the entry, and its hidden flag, as they are).
func (s *Sender) archiveWebVersion(ctx context.Context, m *Message, kind string) error {
	html, err := s.f.WebVersion(m)
	if err != nil {
		return err
	}
	return s.archive.Record(ctx, archive.Entry{ID: m.SendID, Kind: kind, Subject: m.Subject, Summary: m.Preheader,
		Language: s.f.mailLanguage(""), HTML: html, SentAt: s.opts.now()})
}

// selection is who a newsletter of kind ("post" or "digest") goes to.
// With channels.email.newsletter: both, each supporter gets what they chose
// (every post, or the digest); when Crier sends only one of them, everyone
// who has not paused gets it.
func (s *Sender) selection(kind string, m *Message) subscribers.Selection {
	sel := subscribers.Selection{General: m.General || len(s.cfg.Topics) == 0, AllTopics: s.cfg.TopicKeys(), Topics: m.Topics}
	switch {
	case s.cfg.Newsletter != Both:
		sel.Preferences = []string{string(subscribers.EveryPost), string(subscribers.Digest)}
	case kind == "digest":
		sel.Preferences = []string{string(subscribers.Digest)}
	default:
		sel.Preferences = []string{string(subscribers.EveryPost)}
	}
	return sel
}

func (s *Sender) unfinished(ctx context.Context, m *Message, wait time.Duration, why string) (channels.Receipt, error) {
	c, err := s.ledger.counts(context.WithoutCancel(ctx), m.SendID)
	if err != nil {
		return channels.Receipt{}, err
	}
	total := c[rcptPending] + c[rcptSending] + c[rcptSent] + c[rcptFailed] + c[rcptSkipped]
	return channels.Receipt{RemoteID: m.SendID}, channels.RateLimited(
		fmt.Errorf("newsletter %s: %d of %d sent so far, %d to go; %s, continuing later", m.SendID, c[rcptSent], total, c[rcptPending]+c[rcptSending], why), wait)
}

type passResult struct {
	claimed int
	stopped bool
	capWait time.Duration
	abort   error
}

// pass walks the pending recipients once in id order with a pool of SMTP
// connections.
func (s *Sender) pass(ctx context.Context, m *Message, j *journal, stopAt time.Time, log *slog.Logger) passResult {
	var res passResult
	n := s.concurrency()
	budget, capWait, err := s.capBudget(ctx)
	if err != nil {
		res.abort = err
		return res
	}
	if budget == 0 {
		res.capWait = capWait
		return res
	}
	probe := s.signer.UnsubscribeURL(s.env.Campaign.PublicURL, subscribers.Subscriber{ID: 1234567, Email: "probe@example.org"})
	st := &sendState{s: s, m: m, log: log, probe: probe, pzs: map[string]*personaliser{}, journal: j, started: s.opts.now()}
	// stopCtx ends when the pass takes no new message: at stopAt, or when
	// a worker aborts the send. Recipients queued but not started then go
	// back to pending.
	stopCtx, stop := context.WithCancel(ctx)
	if !stopAt.IsZero() {
		stopCtx, stop = context.WithDeadline(ctx, stopAt)
	}
	defer stop()
	st.stop = stop
	// Pages of a few hundred keep the claim's transaction off the
	// per-message cost; the rows of a page not yet sent when the process
	// dies are just put back (they were never handed to the server).
	batch := max(4*n, 256)
	// A page at a time: workers take their next recipient without waiting
	// for the dispatcher to be scheduled.
	jobs := make(chan recipient, batch)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{st: st}
			defer w.close()
			for r := range jobs {
				w.deliver(ctx, stopCtx, r)
				st.let(r.id)
			}
		}()
	}
	// The lease on the rows this replica holds is renewed while it sends
	// them; a replica that dies stops renewing, and the others take the
	// rows once the lease runs out.
	renewDone := make(chan struct{})
	defer close(renewDone)
	go func() {
		t := time.NewTicker(s.ledger.lease / 3)
		defer t.Stop()
		for {
			select {
			case <-renewDone:
				return
			case <-t.C:
				if err := s.ledger.renew(context.WithoutCancel(ctx), m.SendID, st.heldIDs()); err != nil {
					log.Error("renewing the claim on recipients", "err", err)
				}
			}
		}
	}()
	var after int64
dispatch:
	for {
		if stopCtx.Err() != nil {
			res.stopped = true
			break
		}
		size := batch
		if budget > 0 {
			size = min(size, budget-res.claimed)
			if size <= 0 {
				break
			}
		}
		rs, last, err := s.ledger.claim(ctx, m.SendID, after, size)
		if err != nil {
			st.abort(channels.Temporary(err))
			break
		}
		if last == after {
			break // nothing left in this pass
		}
		after = last
		st.hold(rs)
		for i, r := range rs {
			select {
			case jobs <- r:
				res.claimed++
			case <-stopCtx.Done():
				s.releaseAll(ctx, m.SendID, rs[i:])
				for _, r := range rs[i:] {
					st.let(r.id)
				}
				res.stopped = true
				break dispatch
			}
		}
	}
	close(jobs)
	wg.Wait()
	// The pass's checkpoints go into the ledger before anything reads it
	// (counts, caps).
	if err := j.fold(context.WithoutCancel(ctx)); err != nil {
		st.abort(channels.Temporary(err))
	}
	if err := st.abortErr(); err != nil {
		res.abort = err
		return res
	}
	if ctx.Err() != nil {
		res.stopped = true
	}
	if budget > 0 && res.claimed >= budget && !res.stopped {
		_, res.capWait, err = s.capBudget(ctx)
		if err != nil {
			res.abort = err
		}
		res.capWait = max(res.capWait, time.Second)
	}
	return res
}

// releaseAll puts recipients that were taken but not started back, in one
// statement: when the store is down, that is one failure and one line, not
// one per recipient. Rows it could not put back are taken again when their
// lease runs out (PostgreSQL) or by the next attempt (SQLite).
func (s *Sender) releaseAll(ctx context.Context, sendID string, rs []recipient) {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.id
	}
	if err := s.ledger.releaseIDs(context.WithoutCancel(ctx), sendID, ids); err != nil {
		s.log.Warn("recipients taken but not started could not be put back; they are taken again when their claim runs out",
			"send", sendID, "recipients", len(ids), "err", err)
	}
}

// capBudget is how many messages the hourly and daily caps allow now (-1:
// no cap), and when the next one frees up if none.
func (s *Sender) capBudget(ctx context.Context) (int, time.Duration, error) {
	budget := -1
	var wait time.Duration
	now := s.opts.now()
	for _, c := range []struct {
		limit  int
		window time.Duration
	}{{s.cfg.RatePerHour, time.Hour}, {s.cfg.RatePerDay, 24 * time.Hour}} {
		if c.limit <= 0 {
			continue
		}
		since := now.Add(-c.window)
		n, err := s.ledger.sentSince(ctx, since)
		if err != nil {
			return 0, 0, channels.Temporary(err)
		}
		left := max(c.limit-n, 0)
		if budget < 0 || left < budget {
			budget = left
		}
		if left == 0 {
			oldest, err := s.ledger.oldestSentSince(ctx, since)
			if err != nil {
				return 0, 0, channels.Temporary(err)
			}
			wait = max(wait, oldest.Add(c.window).Sub(now)+time.Second)
		}
	}
	return budget, wait, nil
}

// sendState is what the workers of one pass share.
type sendState struct {
	s *Sender
	m *Message
	// pzs are the renderings by mail language, made on the first
	// recipient of each (at most one per message catalogue).
	pzMu    sync.Mutex
	pzs     map[string]*personaliser
	probe   string
	journal *journal
	log     *slog.Logger
	stop    context.CancelFunc

	// started is when the pass began (the outage limit counts from it).
	started time.Time

	mu  sync.Mutex
	err error

	// held are the recipients this pass has claimed and not finished with
	// (queued or being sent): the rows whose lease it renews.
	heldMu sync.Mutex
	held   map[int64]struct{}

	// refused are the recipients refused in a row since the last success,
	// with whether each was marked bounced.
	refused []refusal
}

type refusal struct {
	id      int64
	bounced bool
}

// hold records a claimed page as in hand.
func (st *sendState) hold(rs []recipient) {
	st.heldMu.Lock()
	defer st.heldMu.Unlock()
	if st.held == nil {
		st.held = make(map[int64]struct{}, 2*len(rs))
	}
	for _, r := range rs {
		st.held[r.id] = struct{}{}
	}
}

// let records that the pass is done with a recipient (sent, failed or put
// back).
func (st *sendState) let(id int64) {
	st.heldMu.Lock()
	delete(st.held, id)
	st.heldMu.Unlock()
}

// heldIDs lists the recipients in hand.
func (st *sendState) heldIDs() []int64 {
	st.heldMu.Lock()
	defer st.heldMu.Unlock()
	ids := make([]int64, 0, len(st.held))
	for id := range st.held {
		ids = append(ids, id)
	}
	return ids
}

// refusedInARow records a permanent refusal and returns the streak.
func (st *sendState) refusedInARow(r refusal) []refusal {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.refused = append(st.refused, r)
	return slices.Clone(st.refused)
}

func (st *sendState) abort(err error) {
	st.mu.Lock()
	if st.err == nil {
		st.err = err
	}
	st.mu.Unlock()
	st.stop()
}

func (st *sendState) abortErr() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// resumed records a message accepted: the server answers, and refusals
// in a row start again from none.
func (st *sendState) resumed() {
	st.s.smtp.answered()
	st.mu.Lock()
	st.refused = nil
	st.mu.Unlock()
}

// worker owns one SMTP connection and one mail, both reused across
// messages.
type worker struct {
	st   *sendState
	conn *smtp.Client
	// used is true once the server accepted a message on conn.
	used bool
	msg  *gomail.Msg
	// spliced writes msg with the encoded parts made once per send, and
	// signs it with DKIM when configured; out is what goes to the server
	// for the current recipient: spliced, or msg (signed) when the
	// personaliser cannot splice.
	spliced *splicedMail
	out     io.WriterTo
	// cks wait for the checkpoints of the messages this worker's server
	// accepted that may not be committed yet (PostgreSQL), oldest first:
	// a message is only ended while fewer than checkpointWindow are
	// pending, which is the in-flight bound per connection.
	cks []func() error
}

// settle waits for the oldest pending checkpoints until at most keep are
// pending; a failed one stops the send.
func (w *worker) settle(keep int) error {
	for len(w.cks) > keep {
		ck := w.cks[0]
		w.cks = w.cks[1:]
		if err := ck(); err != nil {
			w.cks = nil
			w.st.abort(channels.Temporary(err))
			return err
		}
	}
	return nil
}

func (w *worker) close() {
	w.settle(0)
	if w.conn != nil {
		_ = w.st.s.client.CloseWithSMTPClient(w.conn)
		w.conn = nil
	}
}

func (w *worker) drop() {
	if w.conn != nil {
		_ = w.conn.Close()
		w.conn = nil
	}
}

// attempt is one recipient's message on its way through a worker.
type attempt struct {
	r recipient
	// bg outlives the attempt's context: an outcome is always recorded.
	bg context.Context
	// stopCtx ends when the pass stops taking new messages.
	stopCtx context.Context
	// tempTries counts 4xx replies retried on the spot.
	tempTries int
	// passStart is when its pass began (the outage limit counts from it).
	passStart time.Time
}

// release puts the recipient back for a later pass, untouched.
func (w *worker) release(a *attempt) {
	if err := w.st.s.ledger.release(a.bg, w.st.m.SendID, a.r.id, false, "", time.Time{}); err != nil {
		w.st.abort(channels.Temporary(err))
	}
}

// next is what deliver does after a step.
type next int

const (
	proceed next = iota // go on to the next step
	again               // try the message again (new connection, or after a wait)
	stop                // the recipient is finished or put back: take the next one
)

// deliver sends one recipient their copy and records the outcome. ctx is the
// attempt's; stopCtx ends when the pass stops taking new messages. A message
// whose SMTP transaction has begun is always finished and recorded. What
// follows a refusal depends on the kind of reply: see lostConnection,
// tempRefusal and permRefusal.
func (w *worker) deliver(ctx, stopCtx context.Context, r recipient) {
	a := &attempt{r: r, bg: context.WithoutCancel(ctx), stopCtx: stopCtx, passStart: w.st.started}
	defer w.st.s.smtp.endProbe(a)
	release := func() { w.release(a) }
	if stopCtx.Err() != nil {
		release()
		return
	}
	if !w.stillWanted(a.bg, &a.r, release) || !w.personalise(a) {
		return
	}
	if err := w.st.s.pacer.wait(stopCtx); err != nil {
		release()
		return
	}
	for {
		// A probe that ended without a verdict (a connection that had
		// carried mail broke) passes the turn on.
		w.st.s.smtp.endProbe(a)
		if err := w.st.s.smtp.waitTurn(stopCtx, a); err != nil {
			release()
			return
		}
		switch w.connect(a) {
		case again:
			continue
		case stop:
			return
		}
		// Waits above (rate, pause, retries) can be long: someone who
		// unsubscribed meanwhile gets nothing.
		if !w.stillWanted(a.bg, &a.r, release) {
			return
		}
		if w.transact(a) == stop {
			return
		}
	}
}

// personalise makes the worker's reused mail the recipient's. A recipient
// whose mail cannot be built is recorded as failed.
func (w *worker) personalise(a *attempt) bool {
	st, s := w.st, w.st.s
	if w.msg == nil {
		w.msg = s.f.newsletterMsg(st.m.Subject, st.m.inline)
		w.spliced = newSplicedMail(w.msg, st.m.inline, s.dkim)
	}
	out, err := s.personal(st.m, st.personaliser(a.r.language), a.r, w.msg, w.spliced)
	w.out = out
	if err != nil {
		// A bad address in the store must not stop everyone else's mail.
		if err := s.ledger.markFailed(a.bg, st.m.SendID, a.r.id, err.Error()); err != nil {
			st.abort(channels.Temporary(err))
		}
		s.metrics.messages.WithLabelValues("failed").Inc()
		return false
	}
	return true
}

// connect dials a connection when the worker has none. A 5xx greeting or
// authentication failure stops the send; other failures are an SMTP outage
// (outage.go).
func (w *worker) connect(a *attempt) next {
	st, s := w.st, w.st.s
	if w.conn != nil {
		return proceed
	}
	conn, err := s.client.DialToSMTPClientWithContext(a.stopCtx)
	if err == nil {
		w.conn, w.used = conn, false
		return proceed
	}
	switch {
	case a.stopCtx.Err() != nil:
		w.release(a)
		return stop
	case deadlinePassed(a.stopCtx):
		// The dial failed because the attempt's time is up, not the
		// server: the pass stops, and the job resumes it.
		w.release(a)
		st.stop()
		return stop
	case loginRefused(err):
		// The user name or password: no use retrying until they change.
		w.release(a)
		st.abort(channels.Refused(fmt.Errorf("connecting to the SMTP server: %w", err)))
		return stop
	case smtpCode(err) >= 500 && smtpCode(err) != 521:
		// e.g. 554 no service: no use retrying now.
		w.release(a)
		st.abort(channels.Permanent(fmt.Errorf("connecting to the SMTP server: %w", err)))
		return stop
	}
	if err := s.smtp.connFailed(a, fmt.Errorf("connecting to the SMTP server: %w", err)); err != nil {
		// Progress is in the ledger: the job resumes the send (a snooze
		// uses no delivery attempt) rather than give up on it.
		w.release(a)
		st.abort(err)
		return stop
	}
	return again
}

// deadlinePassed reports whether ctx's deadline is behind us (a context
// may report it before it is done).
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// transact runs one SMTP transaction and acts on the reply by its kind.
func (w *worker) transact(a *attempt) next {
	s := w.st.s
	var beforeEnd func() error
	if len(w.cks) >= checkpointWindow {
		beforeEnd = func() error { return w.settle(checkpointWindow - 1) }
	}
	err := transactAfter(w.conn, s.opts.timeout, s.envelopeFrom(w.st.m.SendID, a.r.id), (&mail.Address{Address: a.r.email}).String(), w.out, beforeEnd)
	if err == nil {
		w.accepted(a)
		return stop
	}
	if errors.Is(err, errNotEnded) {
		// The checkpoint before it failed and the send is stopping: this
		// message was not accepted.
		w.drop()
		w.release(a)
		return stop
	}
	te := &txError{err: err, broken: true}
	errors.As(err, &te)
	if te.broken {
		w.drop()
	}
	switch code := te.code; {
	case code == 0 || code == 421:
		return w.lostConnection(a, err)
	case code >= 400 && code < 500:
		return w.tempRefusal(a, err)
	default:
		w.permRefusal(a, err, te)
		return stop
	}
}

// accepted checkpoints a message the server took, at once, whatever
// happens to the attempt's context. In the journal file (SQLite) the record
// is written before this connection has another message accepted: at most
// one accepted but unrecorded message per connection. On PostgreSQL the
// commit overlaps with sending the next messages, and a message's final
// dot waits until fewer than checkpointWindow are uncommitted (settle).
func (w *worker) accepted(a *attempt) {
	st, s := w.st, w.st.s
	ck, err := st.journal.recordAsync(a.r.id, s.opts.now())
	if err != nil {
		st.abort(channels.Temporary(err))
		return
	}
	if ck != nil {
		w.cks = append(w.cks, ck)
	}
	s.metrics.sent.Inc()
	w.used = true
	st.resumed()
}

// lostConnection handles a dropped connection or a 421 (the server is
// closing it). The message was not accepted (or its acceptance was lost
// with the connection): it is tried again on a new connection at once when
// the broken one had carried mail, else once the server answers again
// (outage.go).
func (w *worker) lostConnection(a *attempt, err error) next {
	st, s := w.st, w.st.s
	s.metrics.messages.WithLabelValues("retried").Inc()
	if w.used {
		// A connection that carried mail broke (idle too long, or cut
		// by an outage that is over): dial again before calling it an
		// outage.
		w.used = false
		return again
	}
	if err := s.smtp.connFailed(a, errors.New(withoutAddress(replyText(err), a.r.email))); err != nil {
		w.release(a)
		st.abort(err)
		return stop
	}
	return again
}

// tempRefusal handles a 4xx: retried on the spot a few times with backoff,
// then put back for a later pass, and recorded as failed after
// maxRecipientAttempts.
func (w *worker) tempRefusal(a *attempt, err error) next {
	st, s := w.st, w.st.s
	st.s.smtp.answered()
	a.tempTries++
	s.metrics.messages.WithLabelValues("retried").Inc()
	if a.tempTries < tempTriesInline {
		if s.opts.sleep(a.stopCtx, s.opts.backoff<<(a.tempTries-1)) != nil {
			w.release(a)
			return stop
		}
		return again
	}
	// Postfix and others quote the recipient in 4xx replies too.
	reason := withoutAddress(replyText(err), a.r.email)
	if a.r.attempts+1 >= maxRecipientAttempts {
		if err := s.ledger.markFailed(a.bg, st.m.SendID, a.r.id, "gave up after repeated temporary refusals: "+reason); err != nil {
			st.abort(channels.Temporary(err))
		}
		s.metrics.messages.WithLabelValues("failed").Inc()
		return stop
	}
	later := s.opts.now().Add(min(s.opts.backoff<<(tempTriesInline+a.r.attempts), time.Hour))
	if err := s.ledger.release(a.bg, st.m.SendID, a.r.id, true, reason, later); err != nil {
		st.abort(channels.Temporary(err))
	}
	return stop
}

// permRefusal handles a 5xx. A refused sender address stops the send (no
// one can be sent to until the config is fixed); a refused recipient is
// recorded as failed, and marked bounced when the mailbox does not exist;
// maxRefusedInARow refusals in a row mean the server refuses us, not them.
func (w *worker) permRefusal(a *attempt, err error, te *txError) {
	st, s := w.st, w.st.s
	st.s.smtp.answered()
	reason := withoutAddress(replyText(err), a.r.email)
	if te.step == stepMail {
		w.release(a)
		st.abort(channels.Permanent(fmt.Errorf("the SMTP server refused the sender address (%s); the send is kept and resumes when the post is published again", reason)))
		return
	}
	bounced := te.step == stepRcpt && (te.code == 550 || te.code == 551 || te.code == 553) &&
		(te.enhanced == "" || strings.HasPrefix(te.enhanced, "5.1."))
	if streak := st.refusedInARow(refusal{id: a.r.id, bounced: bounced}); len(streak) >= maxRefusedInARow {
		w.refusedByServer(a, streak, reason)
		return
	}
	if err := s.ledger.markFailed(a.bg, st.m.SendID, a.r.id, reason); err != nil {
		st.abort(channels.Temporary(err))
	}
	s.metrics.messages.WithLabelValues("failed").Inc()
	if bounced {
		// The mailbox does not exist: stop mailing it.
		if err := s.subs.SetStatus(a.bg, a.r.id, subscribers.Bounced, reason); err != nil {
			st.log.Error("marking subscriber as bounced", "subscriber", a.r.id, "err", err)
		}
	}
}

// refusedByServer puts a streak of refused recipients back, undoes its
// bounces, and stops the send.
func (w *worker) refusedByServer(a *attempt, streak []refusal, reason string) {
	st, s := w.st, w.st.s
	for _, f := range streak {
		if err := s.ledger.release(a.bg, st.m.SendID, f.id, false, "", time.Time{}); err != nil {
			st.log.Error("putting a refused recipient back", "subscriber", f.id, "err", err)
		}
		if f.bounced && f.id != a.r.id {
			if err := s.subs.SetStatus(a.bg, f.id, subscribers.Confirmed, "bounce undone: the server refused every recipient"); err != nil {
				st.log.Error("undoing a bounce", "subscriber", f.id, "err", err)
			}
		}
	}
	st.abort(channels.Permanent(fmt.Errorf("the SMTP server refused %d recipients in a row (last: %s): it is refusing this sender, not them; check the SMTP settings, then publish the post again to resume", len(streak), reason)))
}

// withoutAddress keeps a recipient's address out of a stored reply (servers
// and go-mail quote it), so that erasing the subscriber erases it everywhere.
func withoutAddress(reply, addr string) string {
	if addr == "" {
		return reply
	}
	return regexp.MustCompile(`(?i)`+regexp.QuoteMeta(addr)).ReplaceAllString(reply, "<recipient>")
}

// stillWanted reports whether the recipient is still subscribed, asking the
// store only when the last answer is older than recheckAfter (a query per
// message would cost throughput for nothing). A recipient who left is
// marked skipped; on a store error the send stops and the recipient is
// released.
func (w *worker) stillWanted(ctx context.Context, r *recipient, release func()) bool {
	st, s := w.st, w.st.s
	now := s.opts.now()
	if now.Sub(r.checkedAt) < recheckAfter {
		return true
	}
	ok, err := s.ledger.stillConfirmed(ctx, r.id)
	if err != nil {
		st.abort(channels.Temporary(err))
		release()
		return false
	}
	if !ok {
		if err := s.ledger.markSkipped(ctx, st.m.SendID, r.id); err != nil {
			st.abort(channels.Temporary(err))
		}
		s.metrics.messages.WithLabelValues("skipped").Inc()
		return false
	}
	r.checkedAt = now
	return true
}

// personaliser returns the send's renderings for a recipient whose mail
// language is lang.
func (st *sendState) personaliser(lang string) *personaliser {
	lang = st.s.f.mailLanguage(lang)
	st.pzMu.Lock()
	defer st.pzMu.Unlock()
	pz := st.pzs[lang]
	if pz == nil {
		pz = st.s.f.newPersonaliser(st.m, st.probe, lang)
		st.pzs[lang] = pz
		if !pz.fast {
			st.log.Info("the templates use the name in a way that needs a full rendering per recipient; sending is slower", "language", lang)
		}
	}
	return pz
}

// personal makes msg (the worker's reused newsletter mail) one recipient's,
// and returns what to send: sp (when not nil) with the recipient's parts
// encoded from the send's encodings (encoded.go) when it can, else msg.
func (s *Sender) personal(m *Message, pz *personaliser, r recipient, msg *gomail.Msg, sp *splicedMail) (io.WriterTo, error) {
	sub := subscribers.Subscriber{ID: r.id, Email: r.email, Name: r.name}
	unsub := s.signer.UnsubscribeURL(s.env.Campaign.PublicURL, sub)
	var out io.WriterTo = msg
	if s.dkim != nil {
		out = signedMsg{msg: msg, dkim: s.dkim}
	}
	var htmlBody, textBody body
	if sp != nil {
		sp.html, sp.text = pz.encodedBodies(r.name, unsub)
		// The pictures are written as stand-ins only when spliced.
		sp.marking = sp.html != nil
		if sp.html != nil {
			htmlBody, textBody, out = stringBody(htmlMark), stringBody(textMark), sp
		}
	}
	if htmlBody == nil {
		htmlBody, textBody = pz.bodies(r.name, unsub)
	}
	if htmlBody == nil {
		return nil, fmt.Errorf("rendering for subscriber %d failed", r.id)
	}
	mailto := s.f.mailto
	if s.bounce != nil {
		mailto = "mailto:" + s.bounce.Unsubscribe(r.id) + "?subject=unsubscribe"
	}
	if err := s.f.personalise(msg, &mail.Address{Name: r.name, Address: r.email},
		messageID(m.SendID, strconv.FormatInt(r.id, 10), s.f.domain), s.opts.now(), unsub, mailto, htmlBody, textBody); err != nil {
		return nil, fmt.Errorf("building mail for subscriber %d: %w", r.id, err)
	}
	return out, nil
}

// envelopeFrom is the MAIL FROM of one message: the recipient's signed
// return path when there is a bounce mailbox, else the from address.
func (s *Sender) envelopeFrom(sendID string, id int64) string {
	if s.bounce == nil {
		return s.f.envelopeFrom
	}
	return "<" + s.bounce.ReturnPath(sendID, id) + ">"
}

// smtpCode is the reply code in err, or 0 for errors that are not SMTP
// replies (network, TLS).
func smtpCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	msg := err.Error()
	if len(msg) >= 3 && (msg[0] == '4' || msg[0] == '5') {
		if c, e := strconv.Atoi(msg[:3]); e == nil {
			return c
		}
	}
	return 0
}

// replyText is the server's reply, short, for the ledger and status.
func replyText(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// pacer spaces messages to the per-second rate across all connections.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
}

func (p *pacer) wait(ctx context.Context) error {
	if p.interval <= 0 {
		return ctx.Err()
	}
	p.mu.Lock()
	now := p.now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	return p.sleep(ctx, at.Sub(now))
}
