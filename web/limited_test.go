package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// A limited public handler answers 429 with Retry-After once a client has
// used its burst, without calling the handler; other clients, told apart
// through a trusted proxy as the forms do, keep theirs.
func TestHandleLimited(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	calls := 0
	s.HandleLimited("GET /hosted/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }), RateLimit{Burst: 3, Every: 10 * time.Second})
	get := func(client string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/hosted/0123456789abcdef0123456789abcdef.png", nil)
		r.RemoteAddr = "10.0.0.1:4000"
		r.Header.Set("X-Forwarded-For", client)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		return w
	}
	for i := range 3 {
		if w := get("81.2.69.142"); w.Code != http.StatusOK {
			t.Fatalf("request %d: %d, want 200", i+1, w.Code)
		}
	}
	w := get("81.2.69.142")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "11" || calls != 3 {
		t.Fatalf("over the limit: %d, Retry-After %q, handler called %d times; want 429, 11, 3", w.Code, w.Header().Get("Retry-After"), calls)
	}
	if w := get("81.2.69.143"); w.Code != http.StatusOK {
		t.Errorf("another client behind the same proxy: %d, want 200", w.Code)
	}
	now = now.Add(10 * time.Second)
	if w := get("81.2.69.142"); w.Code != http.StatusOK {
		t.Errorf("after refilling: %d, want 200", w.Code)
	}
}
