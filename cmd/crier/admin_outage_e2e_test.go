package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestAdminHealthWhilePostgresIsDown: with the PostgreSQL server stopped,
// GET /admin/health with the right token answers what docs/operations.md
// promises (503, store unreachable), not 429 from the failed-token throttle
// that lives in the same database; a wrong token is still refused.
func TestAdminHealthWhilePostgresIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and starts a PostgreSQL server; skipped with -short")
	}
	t.Parallel()
	const token = "admin-token-for-the-outage-test-0123456789"
	srv := pgpeer.StartServer(t)
	b := setupShipped(t)
	pointAt(t, b.dir, srv.DSN())
	addr := testnet.FreeAddr(t)
	b.env["CRIER_ADMIN_TOKEN"], b.env["CRIER_LISTEN"] = token, addr
	b.startDaemon("http://"+addr+"/healthz", http.DefaultClient)
	adminHealth := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/admin/health", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		c := http.Client{Timeout: 20 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testnet.WaitFor(t, "healthy", 30*time.Second, func() bool { code, _ := adminHealth(token); return code == 200 })

	srv.Stop(t)
	testnet.WaitFor(t, "/healthz reporting the lost database", 30*time.Second, func() bool { return healthStatus(addr) == 503 })
	code, body := adminHealth(token)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store unreachable") {
		t.Fatalf("the right token while PostgreSQL is down: %d %s, want 503 with store unreachable", code, body)
	}
	if code, body := adminHealth("wrong-token-for-the-outage-test-012345678"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong token while PostgreSQL is down: %d %s, want 401", code, body)
	}
	srv.Start(t)
	testnet.WaitFor(t, "healthy again", 60*time.Second, func() bool { code, _ := adminHealth(token); return code == 200 })
}
