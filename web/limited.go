package web

import (
	"net/http"
	"strconv"
)

// HandleLimited mounts a public handler behind a rate limit per client
// address (as the newsletter's forms are limited, the client named by a
// trusted proxy's X-Forwarded-For): over it, the answer is 429 with
// Retry-After and h is not called. The buckets are kept in this process's
// memory even when Options.Shared is set: the limit is there to spare the
// database a query per request, which a shared limiter would cost.
func (s *Server) HandleLimited(pattern string, h http.Handler, rate RateLimit) {
	l := newLimiter(rate, s.opts.Now)
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := l.allow(limitKey(clientIP(r, s.opts.TrustedProxies))); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "too many requests from your address: try again later", http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	}))
}
