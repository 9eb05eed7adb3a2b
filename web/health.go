package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// healthCheck runs the daemon's health check for /healthz and
// /admin/health. A result is reused for a second, so that a loop of health
// checks costs the database at most one check per second; a failure is
// logged when it starts, when its reason changes, and once a minute while it
// lasts.
type healthCheck struct {
	check func(ctx context.Context) error
	log   *slog.Logger
	now   func() time.Time

	mu        sync.Mutex
	at        time.Time
	err       error
	loggedAt  time.Time
	loggedErr string
}

const (
	healthReuse    = time.Second
	healthLogEvery = time.Minute
)

func (h *healthCheck) run(ctx context.Context) error {
	if h.check == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if !h.at.IsZero() && now.Sub(h.at) < healthReuse {
		return h.err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h.err, h.at = h.check(ctx), now
	switch {
	case h.err == nil && h.loggedErr != "":
		h.log.Info("healthy again")
		h.loggedErr = ""
	case h.err != nil && (h.err.Error() != h.loggedErr || now.Sub(h.loggedAt) >= healthLogEvery):
		h.log.Warn("unhealthy", "err", h.err)
		h.loggedErr, h.loggedAt = h.err.Error(), now
	}
	return h.err
}

// healthz answers anonymous callers (load balancers, uptime checks) ok or
// unhealthy, nothing more: the reason may name internals (paths, database
// errors) and is for organisers (the log, GET /admin/health).
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.health.run(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "unhealthy")
		return
	}
	fmt.Fprintln(w, "ok")
}

// adminHealth is the health check with its reason, and the warnings, as
// JSON.
func (s *Server) adminHealth(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok", "warnings": []string{}}
	code := http.StatusOK
	if err := s.health.run(r.Context()); err != nil {
		body["status"], body["error"], code = "unhealthy", err.Error(), http.StatusServiceUnavailable
	}
	if s.warnings != nil {
		warnings, err := s.warnings(r.Context())
		if err != nil {
			warnings = append(warnings, "warnings could not be read: "+err.Error())
		}
		if len(warnings) > 0 {
			body["warnings"] = warnings
		}
	}
	writeJSON(w, code, body)
}
