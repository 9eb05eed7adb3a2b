package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log sink safe for the handlers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func serve(h http.Handler, method, target, ip, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	req.RemoteAddr = ip + ":40000"
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestHealthzSaysOnlyOkOrNot: the reason for being unhealthy names
// internals; anonymous callers get none of it, the log and the admin API
// get all of it.
func TestHealthzSaysOnlyOkOrNot(t *testing.T) {
	var logs syncBuffer
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var healthErr error
	calls := 0
	srv := New(Options{AdminToken: adminToken, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Health: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			return healthErr
		}})
	h := srv.Handler()
	if rec := serve(h, "GET", "/healthz", "192.0.2.1", ""); rec.Code != 200 || rec.Body.String() != "ok\n" {
		t.Fatalf("healthy: %d %q", rec.Code, rec.Body.String())
	}
	mu.Lock()
	healthErr = errors.New("store unreachable: unable to open database file /srv/crier/data/crier.db: disk I/O error")
	mu.Unlock()
	clk.Advance(2 * time.Second)
	rec := serve(h, "GET", "/healthz", "192.0.2.1", "")
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "unhealthy\n" {
		t.Fatalf("unhealthy: %d %q, want 503 \"unhealthy\" and nothing else", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Fatalf("the reason is not in the log: %s", logs.String())
	}
	rec = serve(h, "GET", "/admin/health", "192.0.2.1", "Bearer "+adminToken)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "disk I/O error") {
		t.Fatalf("admin health: %d %s", rec.Code, rec.Body.String())
	}
	if rec := serve(h, "GET", "/admin/health", "192.0.2.1", ""); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "disk") {
		t.Fatalf("admin health without token: %d %s", rec.Code, rec.Body.String())
	}
	// A loop of checks within a second asks the daemon once.
	mu.Lock()
	before := calls
	mu.Unlock()
	for range 50 {
		serve(h, "GET", "/healthz", "192.0.2.1", "")
	}
	mu.Lock()
	after := calls
	mu.Unlock()
	if after-before > 0 {
		t.Fatalf("50 checks within a second ran the health check %d more times", after-before)
	}
	// The failure was logged once, not per request.
	if n := strings.Count(logs.String(), "msg=unhealthy"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestAdminTokenThrottled: failed attempts are logged without the token and
// counted per client; a client out of attempts is refused even with the
// right token, until the budget refills; other clients are not affected.
func TestAdminTokenThrottled(t *testing.T) {
	var logs syncBuffer
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	srv := New(Options{AdminToken: adminToken, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv.HandleAdmin("GET /admin/thing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret stuff")) }))
	h := srv.Handler()
	const guess = "Bearer guess-0123456789-guess-0123456789"
	for i := range DefaultAuthFailures.Burst {
		if rec := serve(h, "GET", "/admin/thing", "198.51.100.7", guess); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d, want 401", i+1, rec.Code)
		}
	}
	rec := serve(h, "GET", "/admin/thing", "198.51.100.7", "Bearer "+adminToken)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("after %d failures, the right token: %d %q, want 429 with Retry-After", DefaultAuthFailures.Burst, rec.Code, rec.Body.String())
	}
	if rec := serve(h, "GET", "/admin/thing", "203.0.113.9", "Bearer "+adminToken); rec.Code != 200 {
		t.Fatalf("another client: %d", rec.Code)
	}
	clk.Advance(DefaultAuthFailures.Every)
	if rec := serve(h, "GET", "/admin/thing", "198.51.100.7", "Bearer "+adminToken); rec.Code != 200 {
		t.Fatalf("after the wait: %d", rec.Code)
	}
	out := logs.String()
	if n := strings.Count(out, "admin: authentication failed"); n != DefaultAuthFailures.Burst {
		t.Errorf("%d failures logged, want %d:\n%s", n, DefaultAuthFailures.Burst, out)
	}
	if !strings.Contains(out, "198.51.100.7") {
		t.Errorf("the client is not in the log:\n%s", out)
	}
	if strings.Contains(out, "guess-0123456789") || strings.Contains(out, adminToken) {
		t.Errorf("a token is in the log:\n%s", out)
	}
}

func TestMetricsToken(t *testing.T) {
	const tok = "metrics-token-0123456789abcdef"
	srv := New(Options{Registry: prometheus.NewRegistry(), MetricsToken: tok, Logger: slog.New(slog.DiscardHandler)})
	h := srv.Handler()
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer nope", 401}, {"Bearer " + tok, 200}} {
		if rec := serve(h, "GET", "/metrics", "192.0.2.5", tc.auth); rec.Code != tc.want {
			t.Errorf("%q: %d, want %d", tc.auth, rec.Code, tc.want)
		}
	}
	open := New(Options{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if rec := serve(open.Handler(), "GET", "/metrics", "192.0.2.5", ""); rec.Code != 200 {
		t.Errorf("without a metrics token /metrics is open: %d", rec.Code)
	}
}

// TestAdminHealthListsWarnings: what organisers should fix without the
// daemon being unhealthy (an unreadable post file) is in /admin/health, never
// in the anonymous /healthz.
func TestAdminHealthListsWarnings(t *testing.T) {
	srv := New(Options{AdminToken: adminToken, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Health: func(context.Context) error { return nil },
		Warnings: func(context.Context) ([]string, error) {
			return []string{"post file posts/broken.md cannot be read: line 3: a tab"}, nil
		}})
	h := srv.Handler()
	if rec := serve(h, "GET", "/healthz", "192.0.2.1", ""); rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Fatalf("healthz: %d %q, want ok and nothing else", rec.Code, rec.Body.String())
	}
	rec := serve(h, "GET", "/admin/health", "192.0.2.1", "Bearer "+adminToken)
	var body struct {
		Status   string   `json:"status"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("admin health: %d %s (%v)", rec.Code, rec.Body.String(), err)
	}
	if body.Status != "ok" || len(body.Warnings) != 1 || !strings.Contains(body.Warnings[0], "posts/broken.md") {
		t.Fatalf("admin health: %+v", body)
	}
}
