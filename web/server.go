// Package web provides Crier's HTTP server: health and metrics for operators,
// the newsletter's public pages for supporters, and the authenticated admin
// API for organisers.
package web

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crierhq/crier/config/secret"
)

// Options configure the server.
type Options struct {
	Listen string
	// Health reports why the daemon is unhealthy, or nil. Anonymous
	// callers of /healthz see only ok or unhealthy; the reason goes to the
	// log and to GET /admin/health.
	Health func(ctx context.Context) error
	// Warnings lists what organisers should fix that does not make the
	// daemon unhealthy (a post file that cannot be read); shown by
	// GET /admin/health, never to anonymous callers.
	Warnings func(ctx context.Context) ([]string, error)
	Registry *prometheus.Registry
	// AdminToken guards /admin/; empty means the admin routes are off.
	// config requires at least 32 characters.
	AdminToken secret.Secret
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken secret.Secret
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// client, for throttling failed token attempts per client.
	TrustedProxies []netip.Prefix
	// AuthFailures throttles failed token attempts per client (zero:
	// DefaultAuthFailures).
	AuthFailures RateLimit
	// Shared, when set, keeps the rate limits and caps in this database
	// (created there by PrepareShared), so that they hold across every
	// replica; nil keeps them in this process's memory.
	Shared *sql.DB
	Logger *slog.Logger
	// Now stands in for time.Now (tests).
	Now func() time.Time
}

// DefaultAuthFailures lets a client get a token wrong 10 times, then once a
// minute: enough for a typo, far too few to guess a token.
var DefaultAuthFailures = RateLimit{Burst: 10, Every: time.Minute}

// Server is the daemon's HTTP side.
type Server struct {
	opts     Options
	mux      *http.ServeMux
	http     *http.Server
	health   *healthCheck
	warnings func(ctx context.Context) ([]string, error)
	// authFailures are the failed token attempts per client, shared by
	// /admin/ and /metrics.
	authFailures bucketLimiter
	// untrustedProxyLogged is set once explainUntrustedProxy has spoken.
	untrustedProxyLogged atomic.Bool
}

// PrepareShared creates the tables Options.Shared keeps the limits in.
func PrepareShared(ctx context.Context, db *sql.DB) error { return sharedLimits(ctx, db) }

// newBucketLimiter is the limiter named name: in opts.Shared when set, else in
// memory.
func newBucketLimiter(opts Options, name string, rate RateLimit) bucketLimiter {
	if opts.Shared != nil {
		return newDBLimiter(opts.Shared, name, rate, opts.Now, opts.Logger)
	}
	return newLimiter(rate, opts.Now)
}

// New builds the server with /healthz, /metrics and /admin/health mounted.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AuthFailures == (RateLimit{}) {
		opts.AuthFailures = DefaultAuthFailures
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), authFailures: newBucketLimiter(opts, "auth-failures", opts.AuthFailures)}
	s.health = &healthCheck{check: opts.Health, log: opts.Logger, now: opts.Now}
	s.warnings = opts.Warnings
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.HandleAdmin("GET /admin/health", http.HandlerFunc(s.adminHealth))
	if opts.Registry != nil {
		var h http.Handler = promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{})
		if opts.MetricsToken.IsSet() {
			h = s.requireToken(h, func() string { return opts.MetricsToken.Reveal() }, "crier metrics", "metrics")
		}
		s.mux.Handle("GET /metrics", h)
	}
	s.http = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	return s
}

// Handle mounts a public handler.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleAdmin mounts a handler behind the admin bearer token.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.requireAdmin(h))
}

// Handler returns the whole mux, for tests.
func (s *Server) Handler() http.Handler { return s.mux }

// ListenAndServe serves until ctx is done, then shuts down gracefully.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Listen, err)
	}
	s.opts.Logger.Info("http server listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving http: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down http server: %w", err)
	}
	return nil
}

func (s *Server) requireAdmin(h http.Handler) http.Handler {
	return s.requireToken(h, func() string { return s.opts.AdminToken.Reveal() }, "crier admin", "admin")
}

// requireToken serves h to requests bearing the token. The token is
// compared first, in constant time. Failed attempts are logged (never with
// what was sent) and counted per client; a client out of attempts is
// refused, even with the right token. The count lives in the database
// (Options.Shared): when it cannot be read, the right token still passes,
// so that GET /admin/health can say the store is unreachable, and a wrong
// one is refused without being counted.
func (s *Server) requireToken(h http.Handler, token func() string, realm, what string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := token()
		got, hasBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		right := want != "" && hasBearer && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
		ip := clientIP(r, s.opts.TrustedProxies)
		s.explainUntrustedProxy(r, what)
		key := limitKey(ip)
		wait, blocked, err := s.authFailures.exhausted(key)
		switch {
		case err != nil && right:
			// The throttle's store is down; the handler will say so.
		case blocked:
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			http.Error(w, "too many failed attempts; try again later", http.StatusTooManyRequests)
			return
		case !right:
			if want != "" {
				reason := "wrong token"
				if !hasBearer {
					reason = "no bearer token"
				}
				if err == nil {
					s.authFailures.allow(key)
				} else {
					reason += " (not counted: " + err.Error() + ")"
				}
				s.opts.Logger.Warn(what+": authentication failed", "ip", ip.String(), "path", r.URL.Path, "why", reason)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
			http.Error(w, what+" token required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// explainUntrustedProxy says once in the log that requests come through a
// proxy http.trusted_proxies does not name: every client then has the
// proxy's address and shares one failed-token throttle, so one client's
// failures lock all of them out.
func (s *Server) explainUntrustedProxy(r *http.Request, what string) {
	if !forwardedByUntrusted(r, s.opts.TrustedProxies) || !s.untrustedProxyLogged.CompareAndSwap(false, true) {
		return
	}
	peer, _ := peerAddr(r)
	s.opts.Logger.Warn(what+": requests carry X-Forwarded-For from an address http.trusted_proxies does not name, so the header is ignored; "+
		"if it is your reverse proxy, every client shares its address and one failed-token throttle: add it to http.trusted_proxies",
		"proxy", peer.String())
}
