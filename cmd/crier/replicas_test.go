package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// pointAt writes dsn into the config in dir as store.dsn with driver
// postgres.
func pointAt(t *testing.T, dir, dsn string) {
	t.Helper()
	path := filepath.Join(dir, "config.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(data), "  driver: ${CRIER_STORE_DRIVER:-sqlite}\n", "  driver: postgres\n", 1)
	out = strings.Replace(out, "  dsn: ${DATABASE_URL:-}\n", "  dsn: "+dsn+"\n", 1)
	if out == string(data) || !strings.Contains(out, dsn) {
		t.Fatal("config.yaml no longer says driver: ${CRIER_STORE_DRIVER:-sqlite} and dsn: ${DATABASE_URL:-}")
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}

// healthStatus is /healthz's status code, or 0 when it does not answer.
func healthStatus(addr string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestDatabaseOutage: a daemon on PostgreSQL whose database goes away
// reports it on /healthz (503), keeps running, and when the database is back
// reports healthy again and takes work (a post queued after the outage is
// delivered) without a restart.
func TestDatabaseOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and starts a PostgreSQL server; skipped with -short")
	}
	t.Parallel()
	srv := pgpeer.StartServer(t)
	b := setupShipped(t)
	dir := b.dir
	pointAt(t, dir, srv.DSN())
	addr := testnet.FreeAddr(t)
	b.setenv("CRIER_LISTEN", addr)
	cfg := b.cfg
	logs, _ := b.startStoppable("", nil)
	outbox := filepath.Join(dir, "data", "outbox")
	testnet.WaitFor(t, "first deliveries", 60*time.Second, func() bool { return len(missingOutboxFiles(t, outbox)) == 0 })
	testnet.WaitFor(t, "healthy", 10*time.Second, func() bool { return healthStatus(addr) == 200 })

	srv.Stop(t)
	from := len(logs.String())
	testnet.WaitFor(t, "/healthz reporting the lost database", 30*time.Second, func() bool { return healthStatus(addr) == 503 })
	time.Sleep(3 * time.Second) // a few dozen failed fetches by every River producer
	srv.Start(t)
	testnet.WaitFor(t, "/healthz healthy again", 60*time.Second, func() bool { return healthStatus(addr) == 200 })
	// River's errors during the outage are each logged once, and a
	// summary follows when they stop.
	repeated := map[string]int{}
	for _, line := range strings.Split(logs.String()[from:], "\n") {
		if strings.Contains(line, "component=river") && (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) {
			msg, _, _ := strings.Cut(line[strings.Index(line, "msg="):], " component=")
			repeated[msg]++
		}
	}
	for msg, n := range repeated {
		if n > 1 {
			t.Errorf("River logged %s %d times during the outage; want it once, then a summary", msg, n)
		}
	}
	testnet.WaitFor(t, "a summary of River's repeated errors", 30*time.Second, func() bool {
		return strings.Contains(logs.String()[from:], "stopped repeating")
	})

	// Work after the outage: a post queued now reaches its outbox.
	post := filepath.Join(dir, "posts", "2031-01-01-full-sentence-campaign.md")
	var errOut syncBuffer
	if code := b.main(context.Background(), []string{"--config", cfg, "publish", post, "--channel", "mastodon"}, io.Discard, &errOut); code != 0 {
		t.Fatalf("publish after the outage: exit %d: %s", code, errOut.String())
	}
	testnet.WaitFor(t, "a delivery after the outage", 60*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(outbox, "mastodon", "md-full-sentence*"))
		return len(m) > 0
	})
	if !strings.Contains(logs.String(), "store unreachable") {
		t.Logf("logs:\n%s", logs.String())
	}
}

// TestTwoReplicasShareTheWork: two daemons on one PostgreSQL, started at
// once on the shipped posts and feed, deliver every (post, channel) exactly
// once between them.
func TestTwoReplicasShareTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two daemons; skipped with -short")
	}
	t.Parallel()
	dsn := pgpeer.DSN(t)
	var rs []*bundle
	for range 2 {
		r := setupShipped(t)
		pointAt(t, r.dir, dsn)
		addr := testnet.FreeAddr(t)
		r.setenv("CRIER_LISTEN", addr)
		r.startDaemon("http://"+addr+"/healthz", nil)
		rs = append(rs, r)
	}
	count := func() map[string]int {
		n := map[string]int{}
		for _, r := range rs {
			for _, ch := range []string{"mastodon", "discord", "email"} {
				m, _ := filepath.Glob(filepath.Join(r.dir, "data", "outbox", ch, "*.json"))
				for _, f := range m {
					n[ch+"/"+filepath.Base(f)]++
				}
			}
		}
		return n
	}
	// The shipped tree has two due posts (one Markdown, the feed's newest
	// item): six deliveries.
	testnet.WaitFor(t, "six deliveries between the two replicas", 60*time.Second, func() bool { return len(count()) >= 6 })
	time.Sleep(3 * time.Second) // room for a second copy to show up
	got := count()
	if len(got) != 6 {
		t.Errorf("want 6 deliveries, got %d: %v", len(got), got)
	}
	for f, n := range got {
		if n > 1 {
			t.Errorf("%s delivered %d times", f, n)
		}
	}
}
