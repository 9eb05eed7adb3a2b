package web

import (
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

	// RateLimit bounds subscribe attempts per client address; zero means
	// DefaultRateLimit.
	RateLimit RateLimit
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed
	// (for the rate limit and the consent record); none by default.
	TrustedProxies []netip.Prefix
	// ResendAfter is how long a repeated subscribe for an unconfirmed
	// address waits before another confirmation mail goes out, so the form
	// cannot be used to flood someone's inbox; zero means 10 minutes.
	ResendAfter time.Duration
}

// DefaultRateLimit lets one address submit the subscribe form 5 times at once
// and then once a minute.
var DefaultRateLimit = RateLimit{Burst: 5, Every: time.Minute}

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
	// mails queues confirmation mails for the workers; inflight counts
	// queued and sending ones (tests wait on it).
	mails    chan confirmationMail
	inflight sync.WaitGroup
	metrics  *newsletterMetrics
	pages    map[string]*template.Template
	css      []byte
	limiter  *limiter
	secure   bool
}

var pageNames = []string{"subscribe", "check-inbox", "confirm", "confirmed", "unsubscribe", "unsubscribed", "invalid-link", "error"}

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
	if opts.RateLimit == (RateLimit{}) {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.ResendAfter == 0 {
		opts.ResendAfter = 10 * time.Minute
	}
	n := &newsletter{opts: opts, pages: map[string]*template.Template{}, limiter: newLimiter(opts.RateLimit, opts.Now), secure: u.Scheme == "https",
		mails: make(chan confirmationMail, mailQueue)}
	for _, name := range pageNames {
		t, err := template.New("layout.html").ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing page template %s: %w", name, err)
		}
		n.pages[name] = t
	}
	if n.css, err = templateFS.ReadFile("templates/newsletter.css"); err != nil {
		return nil, fmt.Errorf("reading page style: %w", err)
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

	s.HandleAdmin("GET /admin/subscribers", http.HandlerFunc(n.adminList))
	s.HandleAdmin("GET /admin/subscribers/export", http.HandlerFunc(n.adminExport))
	// {email...}: an address may contain "/" (it is valid in the local part).
	s.HandleAdmin("DELETE /admin/subscribers/{email...}", http.HandlerFunc(n.adminDelete))
	for range mailWorkers {
		go n.mailWorker()
	}
	return n, nil
}

// public wraps a page handler with the headers every page needs: no
// caching (pages carry tokens), no Referer (so a token in the URL never
// leaks to another site), no framing, and a policy that allows nothing but
// our own style sheet and forms posted to ourselves.
func (n *newsletter) public(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Cache-Control", "no-store")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h(w, r)
	})
}

func (n *newsletter) style(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(n.css)
}

// pageData is what every template sees.
type pageData struct {
	Campaign channels.Campaign
	Lang     string
	Title    string
	// Subscribe form.
	CSRF    string
	Email   string
	Name    string
	Consent bool
	Errors  map[string]string
	// Confirm and unsubscribe pages.
	Token          string
	MaskedEmail    string // the address a link is for, partly hidden
	UnsubscribeURL string
	Message        string
}

func (n *newsletter) render(w http.ResponseWriter, status int, page string, d pageData) {
	d.Campaign = n.opts.Campaign
	d.Lang = n.opts.Campaign.Language
	if d.Lang == "" {
		d.Lang = "en"
	}
	var buf strings.Builder
	if err := n.pages[page].Execute(&buf, d); err != nil {
		n.opts.Logger.Error("rendering page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(buf.String()))
}

func (n *newsletter) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	n.opts.Logger.Error("newsletter page failed", "what", what, "path", r.URL.Path, "err", err)
	n.render(w, http.StatusInternalServerError, "error", pageData{Title: "Something went wrong",
		Message: "Something went wrong on our side. Please try again in a little while."})
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
	n.render(w, http.StatusOK, "subscribe", pageData{Title: "Subscribe", CSRF: n.opts.Signer.Sign("csrf", sess)})
}

func (n *newsletter) subscribe(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r, n.opts.TrustedProxies)
	if ok, wait := n.limiter.allow(limitKey(ip)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		n.opts.Logger.Warn("subscribe rate limited", "ip", ip.String())
		n.metrics.inc(evRateLimited)
		n.render(w, http.StatusTooManyRequests, "error", pageData{Title: "Too many attempts",
			Message: "There have been too many attempts from your network. Please wait a few minutes and try again."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		n.render(w, status, "error", pageData{Title: "Form not accepted", Message: "The form could not be read. Please go back and try again."})
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !n.opts.Signer.Verify(r.PostForm.Get("csrf"), "csrf", c.Value) {
		n.metrics.inc(evCSRF)
		sess := n.csrfSession(w, r)
		n.render(w, http.StatusForbidden, "subscribe", pageData{Title: "Subscribe", CSRF: n.opts.Signer.Sign("csrf", sess),
			Email: r.PostForm.Get("email"), Name: r.PostForm.Get("name"),
			Errors: map[string]string{"form": "Your session expired or cookies are blocked. Please submit the form again (cookies must be allowed for this site)."}})
		return
	}
	sess := c.Value
	checkInbox := func() {
		n.render(w, http.StatusOK, "check-inbox", pageData{Title: "Check your inbox"})
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
		d.Errors["email"] = "Please enter your email address."
	case err != nil:
		d.Errors["email"] = "Please enter a valid email address, such as name@example.org."
	}
	name, err := subscribers.NormalizeName(d.Name)
	if err != nil {
		d.Errors["name"] = "Please enter your name on one line, in at most 100 characters."
	}
	if !d.Consent {
		d.Errors["consent"] = "Please tick the box to agree to receive the newsletter."
	}
	if len(d.Errors) > 0 {
		n.metrics.inc(evInvalid)
		n.render(w, http.StatusBadRequest, "subscribe", d)
		return
	}

	n.metrics.inc(evSubscribe)
	ctx := r.Context()
	now := n.opts.Now()
	sub, err := n.opts.Store.Add(ctx, subscribers.Subscriber{Email: email, Name: name, Status: subscribers.Unconfirmed,
		ConsentAt: now, ConsentSource: consentSource, ConsentIP: ip.String()})
	if errors.Is(err, subscribers.ErrSuppressed) {
		// The owner of an erased address subscribes again themselves; the
		// double opt-in makes sure it is them.
		if err = n.opts.Store.Unsuppress(ctx, email); err == nil {
			sub, err = n.opts.Store.Add(ctx, subscribers.Subscriber{Email: email, Name: name, Status: subscribers.Unconfirmed,
				ConsentAt: now, ConsentSource: consentSource, ConsentIP: ip.String()})
		}
	}
	isNew := err == nil
	switch {
	case errors.Is(err, subscribers.ErrExists):
		if sub, err = n.opts.Store.GetByEmail(ctx, email); err != nil {
			n.fail(w, r, "reading subscriber", err)
			return
		}
		if sub.Status == subscribers.Confirmed {
			// Already on the list: nothing is sent, and the answer is the same.
			checkInbox()
			return
		}
	case err != nil:
		n.fail(w, r, "adding subscriber", err)
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
	if !isNew {
		// Someone who had left, bounced or never confirmed subscribes again:
		// record the new consent.
		if err := n.opts.Store.Reconsent(ctx, sub.ID, name, now, consentSource, ip.String()); err != nil {
			n.fail(w, r, "recording consent", err)
			return
		}
		if sub, err = n.opts.Store.Get(ctx, sub.ID); err != nil {
			n.fail(w, r, "reading subscriber", err)
			return
		}
	}
	// The mail goes out after the answer: waiting for the SMTP server here
	// would make a new address answer measurably slower than a confirmed
	// one, and the form must not tell them apart.
	n.inflight.Add(1)
	select {
	case n.mails <- confirmationMail{sub: sub, link: n.opts.Signer.ConfirmURL(n.opts.PublicURL, sub, now)}:
	default:
		n.inflight.Done()
		n.opts.Logger.Error("confirmation mail queue full; dropped (the supporter can submit the form again)", "subscriber", sub.ID)
		n.metrics.inc(evQueueDropped)
		n.releaseClaim(sub.ID)
	}
	checkInbox()
}

// Confirmation mails are sent by a few workers from a bounded queue, so a
// flood of sign-ups from many addresses cannot pile up goroutines.
const (
	mailWorkers = 2
	mailQueue   = 1000
	mailTimeout = 2 * time.Minute
)

type confirmationMail struct {
	sub  subscribers.Subscriber
	link string
}

func (n *newsletter) mailWorker() {
	for m := range n.mails {
		ctx, cancel := context.WithTimeout(context.Background(), mailTimeout)
		err := n.opts.Mailer.SendConfirmation(ctx, m.sub, m.link)
		cancel()
		if err != nil {
			n.opts.Logger.Error("sending confirmation mail failed", "subscriber", m.sub.ID, "err", err)
			n.metrics.inc(evMailFailed)
			// Let the supporter try again at once rather than after the
			// resend pause.
			n.releaseClaim(m.sub.ID)
		} else {
			n.opts.Logger.Info("confirmation mail sent", "subscriber", m.sub.ID)
		}
		n.inflight.Done()
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

func (n *newsletter) invalidLink(w http.ResponseWriter) {
	n.metrics.inc(evBadLink)
	n.render(w, http.StatusBadRequest, "invalid-link", pageData{Title: "Link not valid"})
}

// linkSubscriber resolves the token of a confirm or unsubscribe request, or
// answers the request itself and returns false.
func (n *newsletter) linkSubscriber(w http.ResponseWriter, r *http.Request, token string, p subscribers.Purpose) (subscribers.Subscriber, bool) {
	sub, err := n.subscriberFor(r.Context(), token, p)
	if errors.Is(err, subscribers.ErrBadToken) {
		n.invalidLink(w)
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
		n.render(w, http.StatusOK, "confirmed", pageData{Title: "You are subscribed", UnsubscribeURL: n.relativeUnsubscribe(sub)})
		return
	}
	n.render(w, http.StatusOK, "confirm", pageData{Title: "Confirm your subscription", Token: token, MaskedEmail: maskEmail(sub.Email)})
}

func (n *newsletter) confirm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		n.invalidLink(w)
		return
	}
	sub, ok := n.linkSubscriber(w, r, r.PostForm.Get("t"), subscribers.PurposeConfirm)
	if !ok {
		return
	}
	changed, err := n.opts.Store.Confirm(r.Context(), sub.ID)
	if err != nil {
		n.fail(w, r, "confirming", err)
		return
	}
	if changed {
		n.opts.Logger.Info("subscriber confirmed", "subscriber", sub.ID)
		n.metrics.inc(evConfirm)
	} else if sub.Status != subscribers.Confirmed {
		// They left after this link was sent; an old link does not undo that.
		n.invalidLink(w)
		return
	}
	n.render(w, http.StatusOK, "confirmed", pageData{Title: "You are subscribed", UnsubscribeURL: n.relativeUnsubscribe(sub)})
}

func (n *newsletter) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("t")
	sub, ok := n.linkSubscriber(w, r, token, subscribers.PurposeUnsubscribe)
	if !ok {
		return
	}
	if sub.Status == subscribers.Unsubscribed {
		n.render(w, http.StatusOK, "unsubscribed", pageData{Title: "You are unsubscribed"})
		return
	}
	n.render(w, http.StatusOK, "unsubscribe", pageData{Title: "Unsubscribe", Token: token, MaskedEmail: maskEmail(sub.Email)})
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
		n.invalidLink(w)
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
	n.render(w, http.StatusOK, "unsubscribed", pageData{Title: "You are unsubscribed"})
}

// relativeUnsubscribe is sub's unsubscribe link relative to the page, so the
// pages also work when a reverse proxy serves them under a path prefix
// (public_url https://example.org/news/).
func (n *newsletter) relativeUnsubscribe(sub subscribers.Subscriber) string {
	return "unsubscribe?t=" + url.QueryEscape(n.opts.Signer.Token(subscribers.PurposeUnsubscribe, sub, time.Time{}))
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
