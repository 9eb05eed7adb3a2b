package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestAdminHealthDuringAStoreOutage: the failed-token throttle lives in the
// database; when the database is down, the right token still gets the
// health report (503, "store unreachable"), not 429, and a wrong one is
// still refused.
func TestAdminHealthDuringAStoreOutage(t *testing.T) {
	pgpeer.EachDriver(t, testAdminHealthDuringAStoreOutage)
}

func testAdminHealthDuringAStoreOutage(t *testing.T, driver string) {
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driver, pgpeer.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	if err := PrepareShared(ctx, st.DB()); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	srv := New(Options{AdminToken: adminToken, Shared: st.DB(), Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Health: func(ctx context.Context) error {
			if err := st.DB().PingContext(ctx); err != nil {
				return errors.New("store unreachable: " + err.Error())
			}
			return nil
		}})
	h := srv.Handler()
	if rec := serve(h, "GET", "/admin/health", "192.0.2.1", "Bearer "+adminToken); rec.Code != 200 {
		t.Fatalf("before the outage: %d %s", rec.Code, rec.Body.String())
	}
	st.Close() // the outage: every query fails from now on
	clk.Advance(2 * time.Second)
	for i := range 3 {
		rec := serve(h, "GET", "/admin/health", "192.0.2.1", "Bearer "+adminToken)
		if rec.Code != 503 || !strings.Contains(rec.Body.String(), "store unreachable") {
			t.Fatalf("request %d during the outage, right token: %d %s, want 503 store unreachable", i+1, rec.Code, rec.Body.String())
		}
	}
	for _, auth := range []string{"", "Bearer wrong-token-0123456789-0123456789"} {
		if rec := serve(h, "GET", "/admin/health", "192.0.2.1", auth); rec.Code != 401 || strings.Contains(rec.Body.String(), "unreachable") {
			t.Fatalf("during the outage, %q: %d %s, want 401", auth, rec.Code, rec.Body.String())
		}
	}
	if strings.Contains(logs.String(), adminToken) {
		t.Fatal("the token is in the log")
	}
}

// TestUntrustedProxyExplainedOnce: requests forwarded by a proxy that
// http.trusted_proxies does not name all share the proxy's address and one
// throttle; the log says so once, naming the proxy, and not for a trusted
// one.
func TestUntrustedProxyExplainedOnce(t *testing.T) {
	for _, tc := range []struct {
		trusted []string
		want    int
	}{{nil, 1}, {[]string{"10.0.0.0/8"}, 0}} {
		var logs syncBuffer
		trusted, err := ParseTrustedProxies(tc.trusted)
		if err != nil {
			t.Fatal(err)
		}
		srv := New(Options{AdminToken: adminToken, TrustedProxies: trusted, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for i := range 5 {
			req := httptest.NewRequest("GET", "/admin/health", nil)
			req.RemoteAddr = "10.1.2.3:40000"
			req.Header.Set("X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
		}
		// A direct request without the header says nothing.
		serve(srv.Handler(), "GET", "/admin/health", "192.0.2.1", "Bearer "+adminToken)
		out := logs.String()
		if n := strings.Count(out, "http.trusted_proxies does not name"); n != tc.want {
			t.Fatalf("trusted %v: explained %d times, want %d:\n%s", tc.trusted, n, tc.want, out)
		}
		if tc.want == 1 && !strings.Contains(out, "proxy=10.1.2.3") {
			t.Fatalf("the proxy is not named:\n%s", out)
		}
	}
}
