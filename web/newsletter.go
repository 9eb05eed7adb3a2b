package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
)

// NewsletterOptions configure the newsletter's public pages and admin API.
type NewsletterOptions struct {
	Store  *subscribers.Store
	Signer *subscribers.Signer
	Mailer subscribers.Mailer
	// PublicURL is where supporters reach these pages; links in mail start
	// with it, and an https URL makes the CSRF cookie Secure.
	PublicURL string
	Campaign  channels.Campaign
	Logger    *slog.Logger
	Now       func() time.Time

	// RateLimit bounds subscribe attempts per client address; zero means 5
	// at once and then one a minute.
	RateLimit RateLimit
	// PreferencesRateLimit bounds preference form posts per client
	// address; zero means 20 at once and then one every 10 seconds: room
	// for a supporter trying choices, none for guessing links.
	PreferencesRateLimit RateLimit
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed
	// (for the rate limit and the consent record); none by default.
	TrustedProxies []netip.Prefix
	// ResendAfter is how long a repeated subscribe for an unconfirmed
	// address waits before another confirmation mail goes out, so the form
	// cannot be used to flood someone's inbox; zero means 10 minutes.
	ResendAfter time.Duration
	// MaxConfirmationsPerHour caps the confirmation mails sent in any hour,
	// whoever asks, so that someone with many addresses cannot spend the
	// mail provider's quota; beyond it the form answers as usual but no
	// mail goes out (logged, and counted as mail_capped). Zero means
	// DefaultMaxConfirmationsPerHour; negative means no cap.
	MaxConfirmationsPerHour int
	// Topics are the lists supporters may choose on the subscribe form and
	// the preferences page (channels.email.topics).
	Topics []Topic
	// Newsletter is what Crier mails (channels.email.newsletter: each_post,
	// digest or both; empty: each_post): the preferences page offers a
	// choice of frequency only with both.
	Newsletter string
	// Archive, when set, serves the public archive (/archive, its pages and
	// /archive/feed.xml) and the admin API that hides newsletters from it.
	Archive *archive.Store
	// Templates is a folder whose page templates (layout.html,
	// subscribe.html, ..., newsletter.css) replace the built-in ones, file
	// by file; empty means the built-in ones.
	Templates string
	// PrivacyPolicyURL, when set, is linked from the subscribe form.
	PrivacyPolicyURL string
	// Queue keeps confirmation mails until they are sent; nil means a
	// queue in memory, lost when the process stops (the daemon passes a
	// durable one).
	Queue ConfirmationQueue
	// Erased, when set, is called with the id of a subscriber the admin API
	// erased or the purge of expired sign-ups deleted, to erase what is kept
	// under that id outside the store (the confirmation mails in the outbox).
	Erased func(id int64) error
}

// DefaultMaxConfirmationsPerHour is the default global cap on confirmation
// mails: far above what a small campaign's sign-ups need, far below a mail
// provider's daily quota.
const DefaultMaxConfirmationsPerHour = 200

// maxFormBytes bounds a form body; the subscribe form is well under 1 KiB.
const maxFormBytes = 8 << 10

const (
	csrfCookie = "crier_csrf"
	// The honeypot's name looks like a field a bot would fill in.
	honeypotField = "website"
	consentSource = "form:/subscribe"
)

//go:embed templates/*.html templates/*.css
var templateFS embed.FS

type newsletter struct {
	opts NewsletterOptions
	// mem is the queue of confirmation mails when opts.Queue is nil.
	mem     *memoryQueue
	metrics *newsletterMetrics
	pages   map[string]*template.Template
	css     []byte
	limiter bucketLimiter
	// prefsLimiter bounds preference form posts per client address.
	prefsLimiter bucketLimiter
	secure       bool
	// mailCap counts the confirmation mails queued in the last hour (by
	// every replica, when the server keeps its limits in the database).
	mailCap capCounter

	purgeMu   sync.Mutex
	lastPurge time.Time
}

// purgeEvery is how often a subscribe request also deletes the form
// sign-ups whose confirmation links have all expired.
const purgeEvery = time.Hour

var pageNames = []string{"subscribe", "check-inbox", "confirm", "confirmed", "unsubscribe", "unsubscribed", "invalid-link", "error", "preferences", "archive"}

// MountNewsletter mounts the supporters' pages (/subscribe, /confirm,
// /unsubscribe) and the organisers' admin API (/admin/subscribers...) on s.
func MountNewsletter(s *Server, opts NewsletterOptions) error {
	_, err := mountNewsletter(s, opts)
	return err
}

func mountNewsletter(s *Server, opts NewsletterOptions) (*newsletter, error) {
	if opts.Store == nil || opts.Signer == nil || opts.Mailer == nil {
		return nil, errors.New("mounting newsletter pages: a store, a signer and a mailer are required")
	}
	u, err := url.Parse(opts.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mounting newsletter pages: the public URL (http.public_url) %q must be an absolute http(s) URL such as https://news.example.org", opts.PublicURL)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.RateLimit = cmp.Or(opts.RateLimit, RateLimit{Burst: 5, Every: time.Minute})
	opts.PreferencesRateLimit = cmp.Or(opts.PreferencesRateLimit, RateLimit{Burst: 20, Every: 10 * time.Second})
	if opts.ResendAfter == 0 {
		opts.ResendAfter = 10 * time.Minute
	}
	if opts.MaxConfirmationsPerHour == 0 {
		opts.MaxConfirmationsPerHour = DefaultMaxConfirmationsPerHour
	}
	n := &newsletter{opts: opts, pages: map[string]*template.Template{}, secure: u.Scheme == "https"}
	if n.opts.Queue == nil {
		n.mem = newMemoryQueue()
		n.opts.Queue = n.mem
	}
	if db := s.opts.Shared; db != nil {
		n.limiter = newDBLimiter(db, "subscribe", opts.RateLimit, opts.Now, opts.Logger)
		n.prefsLimiter = newDBLimiter(db, "preferences", opts.PreferencesRateLimit, opts.Now, opts.Logger)
		n.mailCap = newDBWindow(db, "confirmation-mails", opts.MaxConfirmationsPerHour, time.Hour, opts.Now, opts.Logger)
	} else {
		n.limiter = newLimiter(opts.RateLimit, opts.Now)
		n.prefsLimiter = newLimiter(opts.PreferencesRateLimit, opts.Now)
		n.mailCap = newWindowCounter(opts.MaxConfirmationsPerHour, time.Hour, opts.Now)
	}
	if n.pages, n.css, err = loadPages(opts.Templates); err != nil {
		return nil, err
	}
	var reg prometheus.Registerer
	if s.opts.Registry != nil {
		reg = s.opts.Registry
	}
	if n.metrics, err = newNewsletterMetrics(reg, opts.Store); err != nil {
		return nil, err
	}

	s.Handle("GET /newsletter.css", http.HandlerFunc(n.style))
	s.Handle("GET /subscribe", n.public(n.subscribeForm))
	s.Handle("POST /subscribe", n.public(n.subscribe))
	s.Handle("GET /confirm", n.public(n.confirmPage))
	s.Handle("POST /confirm", n.public(n.confirm))
	s.Handle("GET /unsubscribe", n.public(n.unsubscribePage))
	s.Handle("POST /unsubscribe", n.public(n.unsubscribe))
	s.Handle("GET /preferences", n.public(n.preferencesPage))
	s.Handle("POST /preferences", n.public(n.savePreferences))
	if opts.Archive != nil {
		s.Handle("GET /archive", n.public(n.archiveList))
		s.Handle("GET /archive/feed.xml", http.HandlerFunc(n.archiveFeed))
		s.Handle("GET /archive/{id}", http.HandlerFunc(n.archivePage))
		s.HandleAdmin("GET /admin/archive", http.HandlerFunc(n.adminArchive))
		s.HandleAdmin("PATCH /admin/archive/{id}", http.HandlerFunc(n.adminArchiveHide))
	}

	s.HandleAdmin("GET /admin/subscribers", http.HandlerFunc(n.adminList))
	s.HandleAdmin("GET /admin/subscribers/export", http.HandlerFunc(n.adminExport))
	// {email...}: an address may contain "/" (it is valid in the local part).
	s.HandleAdmin("DELETE /admin/subscribers/{email...}", http.HandlerFunc(n.adminDelete))
	n.opts.Queue.Serve(n.sendConfirmation)
	return n, nil
}

// public wraps a page handler with the headers every page needs: no
// caching (pages carry tokens), no Referer (so a token in the URL never
// leaks to another site), no framing, and a policy that allows nothing but
// our own style sheet and forms posted to ourselves.
func (n *newsletter) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPublicHeaders(w)
		h(w, r)
	})
}

func setPublicHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

func (n *newsletter) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(n.css)
}

// pageData is what every template sees. Title, Message and the values of
// Errors are message keys when handlers set them; render translates them.
type pageData struct {
	Campaign channels.Campaign
	Lang     string
	Title    string
	// Base is the way from the page to the site's root ("" or "../"):
	// links are relative, so the pages work under a proxy's path prefix.
	Base      string
	Indexable bool
	FeedURL   string
	// Languages are the page in every language (GET pages only).
	Languages []langLink
	// Subscribe form.
	CSRF       string
	Email      string
	Name       string
	Consent    bool
	Topics     []topicChoice
	PrivacyURL string
	Errors     map[string]string
	// Confirm, unsubscribe and preferences pages.
	Token          string
	MaskedEmail    string // the address a link is for, partly hidden
	PreferencesURL string
	Message        string
	// Preferences page.
	NotSubscribed bool
	ModeNote      string
	Frequencies   []choice
	MailLanguages []langLink
	// Archive.
	Entries []archiveItem
}

// titleKeys are the pages' titles.
var titleKeys = map[string]string{"subscribe": "subscribe.title", "check-inbox": "inbox.title", "confirm": "confirm.title",
	"confirmed": "confirmed.title", "unsubscribe": "unsubscribe.title", "unsubscribed": "unsubscribed.title",
	"invalid-link": "invalid.title", "preferences": "prefs.title", "archive": "archive.title"}

func (n *newsletter) render(w http.ResponseWriter, r *http.Request, status int, page string, d pageData) {
	d.Campaign = n.opts.Campaign
	if d.Lang == "" {
		d.Lang = n.lang(r)
	}
	if k, ok := titleKeys[page]; ok {
		d.Title = k
	}
	d.Title = n.tr(d.Lang, d.Title)
	if d.Message != "" {
		d.Message = n.tr(d.Lang, d.Message)
	}
	for k, v := range d.Errors {
		d.Errors[k] = n.tr(d.Lang, v)
	}
	// The refusals stay the same whatever the request (language links
	// would echo its token, and tell one refusal from another).
	if r.Method == http.MethodGet && page != "invalid-link" && page != "error" {
		d.Languages = n.languageLinks(r, d.Lang)
	}
	d.PrivacyURL = n.opts.PrivacyPolicyURL
	var buf strings.Builder
	if err := n.pages[page].Execute(&buf, d); err != nil {
		n.opts.Logger.Error("rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", d.Lang)
	w.Header().Add("Vary", "Accept-Language")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

// unreadableForm answers a form body that could not be parsed: too large
// (413) or malformed (400). Nothing has been changed.
func (n *newsletter) unreadableForm(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusBadRequest, "error.form"
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status, msg = http.StatusRequestEntityTooLarge, "error.too_large"
	}
	n.render(w, r, status, "error", pageData{Title: "error.form_title", Message: msg})
}

func (n *newsletter) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	n.opts.Logger.Error("newsletter page failed", "what", what, "path", r.URL.Path, "err", err)
	n.render(w, r, http.StatusInternalServerError, "error", pageData{Title: "error.title", Message: "error.text"})
}

// csrfSession returns the browser's CSRF cookie value, setting a new one
// when it has none. The form carries Sign("csrf", cookie): a page on
// another site can make the browser send the cookie but cannot read it to
// compute the matching form field.
func (n *newsletter) csrfSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 20 && len(c.Value) <= 64 {
		return c.Value
	}
	b := make([]byte, 24)
	rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true, Secure: n.secure, SameSite: http.SameSiteLaxMode})
	return v
}

func (n *newsletter) subscribeForm(w http.ResponseWriter, r *http.Request) {
	sess := n.csrfSession(w, r)
	n.render(w, r, http.StatusOK, "subscribe", pageData{CSRF: n.opts.Signer.Sign("csrf", sess), Topics: n.topicChoices(n.lang(r), nil)})
}

func (n *newsletter) subscribe(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r, n.opts.TrustedProxies)
	if ok, wait := n.limiter.allow(limitKey(ip)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		n.opts.Logger.Warn("subscribe rate limited", "ip", ip.String())
		n.metrics.inc(evRateLimited)
		n.render(w, r, http.StatusTooManyRequests, "error", pageData{Title: "error.too_many_title", Message: "error.too_many"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		n.unreadableForm(w, r, err)
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !n.opts.Signer.Verify(r.PostForm.Get("csrf"), "csrf", c.Value) {
		n.metrics.inc(evCSRF)
		sess := n.csrfSession(w, r)
		n.render(w, r, http.StatusForbidden, "subscribe", pageData{CSRF: n.opts.Signer.Sign("csrf", sess),
			Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"), Topics: n.topicChoices(n.lang(r), r.PostForm["topic"]),
			Errors: map[string]string{"form": "subscribe.err_session"}})
		return
	}
	sess := c.Value
	checkInbox := func() {
		n.render(w, r, http.StatusOK, "check-inbox", pageData{})
	}
	if r.PostForm.Get(honeypotField) != "" {
		// A bot: answer as if it worked, so it learns nothing.
		n.opts.Logger.Info("subscribe honeypot filled; dropped", "ip", ip.String())
		n.metrics.inc(evHoneypot)
		checkInbox()
		return
	}

	d := pageData{Title: "Subscribe", CSRF: n.opts.Signer.Sign("csrf", sess), Email: r.PostForm.Get("email"),
		Name: r.PostForm.Get("name"), Consent: r.PostForm.Get("consent") != "", Errors: map[string]string{}}
	email, err := subscribers.NormalizeEmail(d.Email)
	switch {
	case strings.TrimSpace(d.Email) == "":
		d.Errors["email"] = "subscribe.err_email_empty"
	case err != nil:
		d.Errors["email"] = "subscribe.err_email"
	}
	name, err := subscribers.NormalizeName(d.Name)
	if err != nil {
		d.Errors["name"] = "subscribe.err_name"
	}
	if !d.Consent {
		d.Errors["consent"] = "subscribe.err_consent"
	}
	topics, ok := n.knownTopics(r.PostForm["topic"])
	d.Topics = n.topicChoices(n.lang(r), r.PostForm["topic"])
	if !ok {
		d.Errors["topic"] = "subscribe.err_topic"
	}
	if len(d.Errors) > 0 {
		n.metrics.inc(evInvalid)
		n.render(w, r, http.StatusBadRequest, "subscribe", d)
		return
	}

	n.metrics.inc(evSubscribe)
	ctx := r.Context()
	now := n.opts.Now()
	n.purgeExpired(ctx, now)
	// A form post proves nothing about who sent it: for an address already on
	// the list (or erased) the request waits in the store as pending, and the
	// subscriber's record, status and any suppression stay as they are until
	// the address's owner confirms.
	request := subscribers.Pending{Name: name, At: now, Source: consentSource, IP: ip.String()}
	// The page's language becomes the language of their mail; the topics
	// they ticked, their topics. Both only for a new address: for one
	// already on the list the form proves nothing (see above).
	lang := n.lang(r)
	sub, err := n.opts.Store.Add(ctx, subscribers.Subscriber{Email: email, Name: name, Status: subscribers.Unconfirmed,
		ConsentAt: now, ConsentSource: consentSource, ConsentIP: ip.String(), Language: lang, Lists: topics})
	isNew := err == nil
	switch {
	case errors.Is(err, subscribers.ErrSuppressed):
		sub, isNew, err = n.opts.Store.AddPending(ctx, email, request)
		if err != nil {
			n.fail(w, r, "recording subscribe request", err)
			return
		}
	case errors.Is(err, subscribers.ErrExists):
		if sub, err = n.opts.Store.GetByEmail(ctx, email); err != nil {
			n.fail(w, r, "reading subscriber", err)
			return
		}
	case err != nil:
		n.fail(w, r, "adding subscriber", err)
		return
	}
	if sub.Status == subscribers.Confirmed {
		// Already on the list: nothing is sent, and the answer is the same.
		checkInbox()
		return
	}
	claimed, err := n.opts.Store.ClaimConfirmationMail(ctx, sub.ID, now, n.opts.ResendAfter)
	if err != nil {
		n.fail(w, r, "claiming confirmation mail", err)
		return
	}
	if !claimed {
		// A confirmation mail went out moments ago.
		checkInbox()
		return
	}
	if !n.mailCap.take() {
		// The same answer as ever: the cap must not tell anyone anything
		// about the address, and a bot learns nothing from it either.
		n.opts.Logger.Warn("confirmation mail cap reached; no mail sent (the supporter can submit the form again later)",
			"subscriber", sub.ID, "per_hour", n.opts.MaxConfirmationsPerHour)
		n.metrics.inc(evMailCapped)
		n.releaseClaim(sub.ID)
		checkInbox()
		return
	}
	if !isNew {
		if err := n.opts.Store.SetPending(ctx, sub.ID, request); err != nil {
			n.mailCap.giveBack()
			n.releaseClaim(sub.ID)
			n.fail(w, r, "recording subscribe request", err)
			return
		}
	}
	// The mail goes out after the answer: waiting for the SMTP server here
	// would make a new address answer measurably slower than a confirmed
	// one, and the form must not tell them apart. It greets them with the
	// name they typed now, in the language of the page they just used.
	// Queueing outlives the request: a client gone now must not lose it.
	mail := Confirmation{Subscriber: sub.ID, Name: name, Language: lang, Issued: now}
	if err := n.opts.Queue.Queue(context.WithoutCancel(ctx), mail); err != nil {
		n.opts.Logger.Error("confirmation mail not queued; dropped (the supporter can submit the form again)", "subscriber", sub.ID, "err", err)
		n.metrics.inc(evQueueDropped)
		n.mailCap.giveBack()
		n.releaseClaim(sub.ID)
	}
	checkInbox()
}

// purgeExpired deletes, at most once per purgeEvery, the form sign-ups never
// confirmed whose links have all expired, so an address someone else typed
// into the form does not stay in the database.
func (n *newsletter) purgeExpired(ctx context.Context, now time.Time) {
	n.purgeMu.Lock()
	due := n.lastPurge.IsZero() || now.Sub(n.lastPurge) >= purgeEvery
	if due {
		n.lastPurge = now
	}
	n.purgeMu.Unlock()
	if !due {
		return
	}
	purged, err := n.opts.Store.PurgeUnconfirmedIDs(ctx, now.Add(-subscribers.ConfirmTTL))
	if err != nil {
		n.opts.Logger.Error("purging expired sign-ups", "err", err)
		return
	}
	if len(purged) > 0 {
		n.opts.Logger.Info("purged sign-ups never confirmed", "count", len(purged))
	}
	if n.opts.Erased == nil {
		return
	}
	for _, id := range purged {
		if err := n.opts.Erased(id); err != nil {
			n.opts.Logger.Error("purging an expired sign-up from the outbox", "subscriber", id, "err", err)
		}
	}
}

func (n *newsletter) releaseClaim(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.opts.Store.ReleaseConfirmationMail(ctx, id); err != nil {
		n.opts.Logger.Error("releasing confirmation mail claim", "subscriber", id, "err", err)
	}
}

// subscriberFor checks a link token and returns its subscriber; every
// failure is the same ErrBadToken.
func (n *newsletter) subscriberFor(ctx context.Context, token string, p subscribers.Purpose) (subscribers.Subscriber, error) {
	id, err := n.opts.Signer.Parse(token, p)
	if err != nil {
		return subscribers.Subscriber{}, err
	}
	sub, err := n.opts.Store.Get(ctx, id)
	if errors.Is(err, subscribers.ErrNotFound) {
		return sub, subscribers.ErrBadToken
	}
	if err != nil {
		return sub, err
	}
	if err := n.opts.Signer.Check(token, p, sub, n.opts.Now()); err != nil {
		return sub, err
	}
	return sub, nil
}

func (n *newsletter) invalidLink(w http.ResponseWriter, r *http.Request) {
	n.metrics.inc(evBadLink)
	n.render(w, r, http.StatusBadRequest, "invalid-link", pageData{})
}

// linkSubscriber resolves the token of a confirm or unsubscribe request, or
// answers the request itself and returns false.
func (n *newsletter) linkSubscriber(w http.ResponseWriter, r *http.Request, token string, p subscribers.Purpose) (subscribers.Subscriber, bool) {
	sub, err := n.subscriberFor(r.Context(), token, p)
	if errors.Is(err, subscribers.ErrBadToken) {
		n.invalidLink(w, r)
		return sub, false
	}
	if err != nil {
		n.fail(w, r, "checking link", err)
		return sub, false
	}
	return sub, true
}

// confirmPage only shows a button: mail scanners fetch every link in a mail,
// so a GET must never confirm.
func (n *newsletter) confirmPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeConfirm)
	if !ok {
		return
	}
	if sub.Status == subscribers.Confirmed {
		n.render(w, r, http.StatusOK, "confirmed", pageData{PreferencesURL: n.relativePreferences(sub)})
		return
	}
	n.render(w, r, http.StatusOK, "confirm", pageData{Token: token, MaskedEmail: maskEmail(sub.Email)})
}

func (n *newsletter) confirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		n.invalidLink(w, r)
		return
	}
	token := r.PostForm.Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeConfirm)
	if !ok {
		return
	}
	issued, err := n.opts.Signer.Issued(token)
	if err != nil {
		n.invalidLink(w, r)
		return
	}
	changed, err := n.opts.Store.Confirm(r.Context(), sub.ID, subscribers.Confirmation{LinkIssued: issued, IP: clientIP(r, n.opts.TrustedProxies).String()})
	if err != nil {
		n.fail(w, r, "confirming", err)
		return
	}
	if changed {
		n.opts.Logger.Info("subscriber confirmed", "subscriber", sub.ID)
		n.metrics.inc(evConfirm)
	} else if sub.Status != subscribers.Confirmed {
		// They left after this link was sent, and have not asked to come back
		// since (or asked with a newer link): an old link does not undo that.
		n.invalidLink(w, r)
		return
	}
	n.render(w, r, http.StatusOK, "confirmed", pageData{PreferencesURL: n.relativePreferences(sub)})
}

func (n *newsletter) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeUnsubscribe)
	if !ok {
		return
	}
	if sub.Status == subscribers.Unsubscribed {
		n.render(w, r, http.StatusOK, "unsubscribed", pageData{})
		return
	}
	n.render(w, r, http.StatusOK, "unsubscribe", pageData{Token: token, MaskedEmail: maskEmail(sub.Email), PreferencesURL: n.relativePreferences(sub)})
}

// unsubscribe serves both the page's button and RFC 8058 one-click
// unsubscribes, which mail providers POST to the List-Unsubscribe URL with
// "List-Unsubscribe=One-Click" in the body and no cookies: it acts at once,
// with no CSRF check and no login, because the signed token is the
// authority and that is the point of one-click.
func (n *newsletter) unsubscribe(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	// RFC 8058 allows multipart/form-data as well as urlencoded bodies.
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		n.invalidLink(w, r)
		return
	}
	token := r.PostForm.Get("t")
	if token == "" {
		token = r.URL.Query().Get("t")
	}
	oneClick := r.PostForm.Get("List-Unsubscribe") == "One-Click"
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeUnsubscribe)
	if !ok {
		return
	}
	if sub.Status != subscribers.Unsubscribed {
		reason := "unsubscribe page"
		if oneClick {
			reason = "one-click"
		}
		if err := n.opts.Store.SetStatus(r.Context(), sub.ID, subscribers.Unsubscribed, reason); err != nil {
			n.fail(w, r, "unsubscribing", err)
			return
		}
		n.opts.Logger.Info("subscriber unsubscribed", "subscriber", sub.ID, "how", reason)
		if oneClick {
			n.metrics.inc(evOneClick)
		} else {
			n.metrics.inc(evUnsubscribe)
		}
	}
	n.render(w, r, http.StatusOK, "unsubscribed", pageData{})
}

// maskEmail shows enough of an address for its owner to recognise it and
// little to anyone else who got hold of the link: "an***@example.org".
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok {
		return ""
	}
	keep := 2
	if len(local) <= 2 {
		keep = 1
	}
	return local[:keep] + "***@" + domain
}
