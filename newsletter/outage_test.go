package newsletter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testlog"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// proxy is a TCP proxy in front of an SMTP server that a test switches off
// (every connection cut, new ones refused) and on again: an outage.
type proxy struct {
	addr   string
	target string
	mu     sync.Mutex
	l      net.Listener
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(l)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *proxy) pipe(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }()
	io.Copy(c, s)
	c.Close()
}

// down cuts every connection and refuses new ones.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l.Close()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// up takes connections on the same address again.
func (p *proxy) up(t *testing.T) {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(l)
}

// TestSMTPOutage: the SMTP server goes away in the middle of a send (every
// connection cut, new ones refused) and comes back. The outage is one
// outage: one connection tries the server on a capped backoff, sending
// resumes within 10 s of its return (the bound), nobody is marked
// failed or bounced, nobody is missed, and the log has one line when the
// outage begins and one when it ends. The outage lasted 20 s with
// the default timings (backoff 2s, probes at most 5s apart); the test
// scales both down five times, unless CRIER_EMAIL_OUTAGE names an outage
// length (CRIER_EMAIL_OUTAGE=20s: the case, default timings).
func TestSMTPOutage(t *testing.T) { pgpeer.EachDriver(t, testSMTPOutage) }

func testSMTPOutage(t *testing.T, driver string) {
	const total, concurrency = 600, 4
	outage := 4 * time.Second
	timings := []Option{WithRetryBackoff(400 * time.Millisecond), WithOutageProbe(time.Second)}
	if d, err := time.ParseDuration(os.Getenv("CRIER_EMAIL_OUTAGE")); err == nil {
		outage, timings = d, []Option{WithRetryBackoff(2 * time.Second)}
	}
	ctx := context.Background()
	sk := startSink(t, false)
	px := startProxy(t, sk.addr.String())
	logs := testlog.New()
	fx := newLoggedFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: px.port()}, pgpeer.Target(t, driver), slog.New(logs),
		func(c *Config) {
			c.Concurrency = concurrency
			c.RatePerSecond = 150
		}, timings...)
	for i := range total {
		fx.add(t, fmt.Sprintf("s%04d@example.org", i), "", subscribers.Confirmed)
	}
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	// The delivery job, as River runs it: a rate-limited attempt is
	// snoozed for the wait it names, and run again.
	done := make(chan error, 1)
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for attempt := 1; ; attempt++ {
			_, err := fx.sender.Send(jobCtx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: attempt}, payload)
			kind, wait := channels.Classify(err)
			if err == nil || kind != channels.KindRateLimited {
				done <- err
				return
			}
			if sleepCtx(jobCtx, wait) != nil {
				done <- err
				return
			}
		}
	}()
	waitUntil(t, "the send to get going", 60*time.Second, func() bool { return sk.messages.Load() >= total/4 })
	px.down()
	time.Sleep(outage) // the outage itself: nothing to poll for
	before := sk.messages.Load()
	back := time.Now()
	px.up(t)
	waitUntil(t, "sending to resume within 10 s of the server's return", 10*time.Second, func() bool { return sk.messages.Load() > before })
	t.Logf("%s: sending resumed %s after the server's return", driver, time.Since(back).Round(time.Millisecond))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the send did not finish")
	}

	ps, err := SendProgress(ctx, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Sent != total || ps[0].Failed != 0 || ps[0].State != "done" {
		t.Errorf("progress %+v", ps)
	}
	var bounced int
	if err := fx.db.QueryRow(`SELECT COUNT(*) FROM subscribers WHERE status != 'confirmed'`).Scan(&bounced); err != nil || bounced != 0 {
		t.Errorf("%d supporters no longer confirmed (%v)", bounced, err)
	}
	// A message cut after its data reached the server may come twice
	// (at most one per connection).
	if dups := sk.messages.Load() - total; dups < 0 || dups > concurrency {
		t.Errorf("%d messages for %d recipients", sk.messages.Load(), total)
	}
	if rs := logs.Records(slog.LevelWarn, ""); len(rs) != 1 {
		t.Errorf("want one warning (the outage begins), got %d:\n%s", len(rs), testlog.Lines(rs))
	}
	if rs := logs.Records(slog.LevelWarn, "SMTP server unreachable"); len(rs) != 1 || !strings.Contains(testlog.Lines(rs), "cause=") {
		t.Errorf("want one line with its cause when the outage begins, got %d:\n%s", len(rs), testlog.Lines(rs))
	}
	if rs := logs.Records(slog.LevelInfo, "SMTP server answers again"); len(rs) != 1 || !strings.Contains(testlog.Lines(rs), "down_for=") {
		t.Errorf("want one line when the outage ends, got %d:\n%s", len(rs), testlog.Lines(rs))
	}
}

// waitUntil polls cond until it holds; the test fails when it does not
// within bound.
func waitUntil(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	testnet.WaitFor(t, what, bound, cond)
}

// TestStoreOutageLog: PostgreSQL goes away for a few seconds in the middle
// of a send and comes back. The send goes on afterwards and reaches
// everyone, and the log has each warning or error of the outage once (the
// recipients taken in hand but not started are put back in one statement,
// one line if it fails, not one per recipient), then a summary.
func TestStoreOutageLog(t *testing.T) {
	if testing.Short() {
		t.Skip("stops and starts a PostgreSQL server; skipped with -short")
	}
	t.Parallel()
	const total, concurrency = 600, 4
	ctx := context.Background()
	srv := pgpeer.StartServer(t)
	sk := startSink(t, false)
	logs := testlog.New()
	fx := newLoggedFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, srv.DSN(), slog.New(logs),
		func(c *Config) {
			c.Concurrency = concurrency
			c.RatePerSecond = 150
		}, WithLease(2*time.Second))
	for i := range total {
		fx.add(t, fmt.Sprintf("s%04d@example.org", i), "", subscribers.Confirmed)
	}
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	// The delivery job, as River runs it: snoozed or retried after a
	// short wait until it succeeds.
	done := make(chan struct{})
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(done)
		for attempt := 1; jobCtx.Err() == nil; attempt++ {
			_, err := fx.sender.Send(jobCtx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: attempt}, payload)
			if err == nil {
				return
			}
			_, wait := channels.Classify(err)
			sleepCtx(jobCtx, max(wait, 200*time.Millisecond))
		}
	}()
	waitUntil(t, "the send to get going", 60*time.Second, func() bool { return sk.messages.Load() >= total/4 })
	srv.Stop(t)
	time.Sleep(3 * time.Second) // the outage itself: nothing to poll for
	srv.Start(t)
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the send did not finish after the outage")
	}
	ps, err := SendProgress(ctx, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Sent != total || ps[0].State != "done" {
		t.Errorf("progress %+v", ps)
	}
	// Second copies (messages accepted whose checkpoint the outage lost)
	// are the crash tests' subject; this one counts only what is missed.
	if sk.messages.Load() < total {
		t.Errorf("%d messages for %d recipients", sk.messages.Load(), total)
	}
	t.Logf("%d second copies (in-flight bound %d)", sk.messages.Load()-total, concurrency*checkpointWindow)
	warnings := logs.Records(slog.LevelWarn, "")
	seen := map[string]int{}
	for _, r := range warnings {
		seen[r.Message]++
	}
	lines := testlog.Lines(warnings)
	for msg, n := range seen {
		if n > 1 {
			t.Errorf("%q logged %d times; want once per outage:\n%s", msg, n, lines)
		}
	}
	t.Logf("warnings and errors:\n%s", lines)
}

// TestProbeTurn: during an outage one attempt at a time probes the server;
// a connection whose pass is stopping never takes the turn (it would keep
// it, and every later connection would wait for its verdict), and only the
// prober's own end passes the turn on.
func TestProbeTurn(t *testing.T) {
	t.Parallel()
	o := options{now: time.Now, sleep: sleepCtx, backoff: time.Millisecond, probeMax: time.Millisecond, outageLimit: time.Hour}
	h := &smtpHealth{opts: &o, log: slog.New(testlog.New())}
	first, stopping, prober, other := &attempt{}, &attempt{}, &attempt{}, &attempt{}
	if err := h.connFailed(first, errors.New("connection refused")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // the first probe is due
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.waitTurn(stopped, stopping); err == nil {
		t.Fatal("a stopping connection was given the turn")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.waitTurn(ctx, prober); err != nil {
		t.Fatalf("the turn was not free: %v", err)
	}
	h.endProbe(other) // not the prober: changes nothing
	if h.outage.prober != prober {
		t.Fatal("another attempt's end took the prober's turn")
	}
	waited := make(chan error, 1)
	go func() { waited <- h.waitTurn(ctx, other) }()
	h.endProbe(prober)
	if err := <-waited; err != nil {
		t.Fatalf("the turn did not pass on: %v", err)
	}
	if h.outage.prober != other {
		t.Fatal("the waiting attempt does not have the turn")
	}
	h.answered()
	if err := h.waitTurn(ctx, first); err != nil || h.down.Load() {
		t.Fatalf("after the server answered: %v, down %v", err, h.down.Load())
	}
}
