package newsletter

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
)

// The newsletter benchmark (docs/BENCHMARKS.md): run with
//
//	CRIER_EMAIL_BENCH=100000 go test -count=1 ./newsletter -run 'TestNewsletterBenchmark$' -v -timeout 60m
//
// It fills a store with N confirmed subscribers and a go-smtp sink that
// discards, then in rounds measures, each sender in a child process: (1)
// the ceiling, go-mail's SendWithSMTPClient sending one pre-built message
// over benchConcurrency connections with no store and no templates; (2)
// bare, the same message over the newsletter's own SMTP exchange; (3) the
// real send of a new post to all N (its peak RSS, VmHWM, is the sender's
// alone). Variables: CRIER_EMAIL_BENCH_CEILING (messages per ceiling pair),
// CRIER_EMAIL_BENCH_ROUNDS (default 3), CRIER_EMAIL_BENCH_CPUPROFILE,
// CRIER_EMAIL_BENCH_MEMPROFILE (the newsletter child's allocations), and
// CRIER_EMAIL_BENCH_ARTICLE: a Markdown file sent as the post's body instead
// of the short sample (testdata/bench-article.md is issue 27's 9 KB article),
// and CRIER_EMAIL_BENCH_DKIM: a PEM private key file to sign with (the
// drivers benchmark takes it too). testdata/bench-issue27.sh runs both
// benchmarks alternated against a baseline checkout.

const benchConcurrency = 4

type benchResult struct {
	Messages int64   `json:"messages"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_second"`
	// CPU is user+system CPU seconds spent (by the sender's process; the
	// sink's share is added by the parent).
	CPU      float64 `json:"cpu_seconds"`
	VmHWMkB  int64   `json:"vmhwm_kb,omitempty"`
	Snapshot float64 `json:"snapshot_seconds,omitempty"`
	// MsgBytes is the size of the newsletter's preview copy (message.eml).
	MsgBytes int `json:"msg_bytes,omitempty"`
}

func TestNewsletterBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH"))
	if n <= 0 {
		t.Skip("set CRIER_EMAIL_BENCH=100000 to run the newsletter benchmark")
	}
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	start := time.Now()
	fillSubscribers(t, dbPath, n)
	t.Logf("filled %d subscribers in %s", n, time.Since(start).Round(time.Millisecond))
	sk := startSink(t, false)

	ceilingN := n
	if c, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_CEILING")); c > 0 {
		ceilingN = c
	}
	rounds := 3
	if r, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_ROUNDS")); r > 0 {
		rounds = r
	}
	// Each round measures, one after the other: the ceiling, the bare
	// ceiling, the newsletter (a send of a new post to all n), the bare
	// ceiling and the ceiling again; the round's ratios use the mean of the
	// two ceiling runs around the send. This machine is shared and its speed
	// drifts by 10-20% within minutes, so the report is the median of the
	// rounds' ratios.
	//
	// All run in a child process against the sink in this one, so that they
	// pay the same cross-process wake-ups (an in-process ceiling would not,
	// and its sink would cost a third less CPU per message).
	//
	// Two ceilings: the (go-mail's Client.SendWithSMTPClient, which
	// sends RSET after every message) and "bare", the same pre-built message
	// over the exact SMTP exchange the newsletter uses (transact, no RSET),
	// which isolates what the store, templates and checkpoints cost.
	type figures struct{ rate, sender, sink float64 }
	measure := func(mode string, round, msgs int) figures {
		r, sinkCPU := runBenchChild(t, sk, dbPath, mode, round, msgs)
		f := figures{rate: r.PerSec, sender: r.CPU / float64(r.Messages) * 1e6, sink: sinkCPU / float64(r.Messages) * 1e6}
		if mode == "newsletter" {
			t.Logf("round %d: newsletter: %d personalised messages over %d connections in %.2fs (snapshot %.2fs): %.0f msg/s; CPU per message %.0f µs (sender %.0f + sink %.0f); peak RSS %d MB; message %.1f KB",
				round, r.Messages, benchConcurrency, r.Seconds, r.Snapshot, r.PerSec, f.sender+f.sink, f.sender, f.sink, r.VmHWMkB/1024, float64(r.MsgBytes)/1024)
		}
		return f
	}
	mean := func(a, b figures) figures {
		return figures{(a.rate + b.rate) / 2, (a.sender + b.sender) / 2, (a.sink + b.sink) / 2}
	}
	var ceilRatio, bareRatio, ceilWork, bareWork []float64
	for round := 1; round <= rounds; round++ {
		c1 := measure("ceiling", round, ceilingN/2)
		b1 := measure("bare", round, ceilingN/2)
		nl := measure("newsletter", round, n)
		b2 := measure("bare", round, ceilingN/2)
		c2 := measure("ceiling", round, ceilingN/2)
		ceil, bare := mean(c1, c2), mean(b1, b2)
		ours := nl.sender + nl.sink
		for _, c := range []struct {
			name string
			f    figures
			a, b figures
		}{{"ceiling (go-mail SendWithSMTPClient)", ceil, c1, c2}, {"bare transactions (no RSET)", bare, b1, b2}} {
			t.Logf("round %d: %s: %.0f msg/s (before %.0f, after %.0f); CPU per message %.0f µs (sender %.0f + sink %.0f). Newsletter: %.0f%% of its rate, %.0f%% of its work rate",
				round, c.name, c.f.rate, c.a.rate, c.b.rate, c.f.sender+c.f.sink, c.f.sender, c.f.sink, 100*nl.rate/c.f.rate, 100*(c.f.sender+c.f.sink)/ours)
		}
		ceilRatio = append(ceilRatio, 100*nl.rate/ceil.rate)
		bareRatio = append(bareRatio, 100*nl.rate/bare.rate)
		ceilWork = append(ceilWork, 100*(ceil.sender+ceil.sink)/ours)
		bareWork = append(bareWork, 100*(bare.sender+bare.sink)/ours)
	}
	t.Logf("median of %d rounds: the newsletter sends at %.0f%% of the ceiling's rate (%.0f%% of its work rate) and %.0f%% of the bare ceiling's (%.0f%%)",
		rounds, median(ceilRatio), median(ceilWork), median(bareRatio), median(bareWork))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runBenchChild runs TestNewsletterBenchChild in a child process in mode
// "ceiling" or "newsletter" for n messages, checks the sink got them all,
// and returns the child's figures and the CPU the sink (this process) spent
// meanwhile.
func runBenchChild(t *testing.T, sk *sink, dbPath, mode string, round, n int) (benchResult, float64) {
	t.Helper()
	sk.messages.Store(0)
	args := []string{"-test.run=^TestNewsletterBenchChild$", "-test.v"}
	if prof := os.Getenv("CRIER_EMAIL_BENCH_CPUPROFILE"); prof != "" {
		// The senders' CPU profiles (go tool pprof FILE.newsletter, and
		// FILE.ceiling for the last ceiling run).
		args = append(args, "-test.cpuprofile="+prof+"."+mode)
	}
	if prof := os.Getenv("CRIER_EMAIL_BENCH_MEMPROFILE"); prof != "" && mode == "newsletter" {
		args = append(args, "-test.memprofile="+prof, "-test.memprofilerate=65536")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CRIER_EMAIL_BENCH_CHILD="+dbPath, "CRIER_EMAIL_BENCH_SMTP="+strconv.Itoa(sk.addr.Port),
		"CRIER_EMAIL_BENCH_MODE="+mode, "CRIER_EMAIL_BENCH_N="+strconv.Itoa(n), "CRIER_EMAIL_BENCH_ROUND="+strconv.Itoa(round))
	cpu0 := cpuSeconds()
	out, err := cmd.CombinedOutput()
	sinkCPU := cpuSeconds() - cpu0
	if err != nil {
		t.Fatalf("%s child: %v\n%s", mode, err, out)
	}
	var res benchResult
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "BENCH "); ok {
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := n
	if mode == "newsletter" {
		want = benchRecipients(n)
	}
	if res.Messages != int64(want) || sk.messages.Load() != int64(want) {
		t.Fatalf("%s: sent %d, sink got %d, want %d\n%s", mode, res.Messages, sk.messages.Load(), want, out)
	}
	return res, sinkCPU
}

// fillSubscribers writes n confirmed subscribers straight into the table
// (Add one by one would take most of the benchmark's time).
func fillSubscribers(t testing.TB, dbPath string, n int) {
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driverOf(dbPath), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := subscribers.Open(ctx, st.DB()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for from := 0; from < n; from += 10000 {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, updated_at, preference, lists, language)
			VALUES ($1, $2, 'confirmed', $3, $3, $4, $5, $6)`)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < min(from+10000, n); i++ {
			pref, lists, lang := benchChoices(i)
			if _, err := stmt.ExecContext(ctx, fmt.Sprintf("supporter%07d@example.org", i), fmt.Sprintf("Supporter %d", i), now, pref, lists, lang); err != nil {
				t.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// benchChoices are subscriber i's preferences in the benchmark, so that a
// send selects its recipients as a real one does: 10% take the digest, 5%
// have paused, 20% chose reports only and 20% events only, and their mail
// is in one of four languages. The benchmark's post is on events (about 70%
// of the list receives it).
func benchChoices(i int) (pref, lists, lang string) {
	pref, lists = "each_post", "[]"
	switch {
	case i%10 == 0:
		pref = "digest"
	case i%20 == 5:
		pref = "paused"
	}
	switch i % 5 {
	case 1:
		lists = `["reports"]`
	case 2:
		lists = `["events"]`
	}
	return pref, lists, []string{"", "fr", "es", "de"}[i%4]
}

// benchRecipients is how many of n subscribers the benchmark's post goes to.
func benchRecipients(n int) int {
	r := 0
	for i := range n {
		if pref, lists, _ := benchChoices(i); pref == "each_post" && lists != `["reports"]` {
			r++
		}
	}
	return r
}

// measureCeiling sends n copies of one pre-built message (the same
// newsletter, same size) with go-mail over benchConcurrency connections:
// with go-mail's Client.SendWithSMTPClient, or bare, with the exchange the
// newsletter sender uses.
func measureCeiling(t *testing.T, port, n int, bare bool) benchResult {
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	cfg := testConfig()
	cfg.SMTP = SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}
	client, err := newClient(cfg, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var sent atomic.Int64
	start := time.Now()
	for w := range benchConcurrency {
		count := n / benchConcurrency
		if w < n%benchConcurrency {
			count++
		}
		msg, err := f.build(m.Subject, m.HTML, m.Text, mustAddr("supporter0000001@example.org"), "ceiling@camaca.org", time.Now(), "https://news.camaca.org/unsubscribe?t=u.1.0.abcdefghijklmnopqrstuvwxyz0", nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := client.DialToSMTPClientWithContext(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			defer client.CloseWithSMTPClient(conn)
			for range count {
				if bare {
					err = transact(conn, time.Minute, f.envelopeFrom, "<supporter0000001@example.org>", msg)
				} else {
					err = client.SendWithSMTPClient(conn, msg)
				}
				if err != nil {
					t.Error(err)
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	return benchResult{Messages: sent.Load(), Seconds: secs, PerSec: float64(sent.Load()) / secs}
}

func mustAddr(a string) *mail.Address { return &mail.Address{Address: a} }

// TestNewsletterBenchChild is the child process of TestNewsletterBenchmark.
func TestNewsletterBenchChild(t *testing.T) {
	dbPath := os.Getenv("CRIER_EMAIL_BENCH_CHILD")
	if dbPath == "" {
		t.Skip("helper process for TestNewsletterBenchmark")
	}
	port, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_SMTP"))
	if mode := os.Getenv("CRIER_EMAIL_BENCH_MODE"); mode == "ceiling" || mode == "bare" {
		n, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_N"))
		res := measureCeiling(t, port, n, mode == "bare")
		res.CPU = cpuSeconds()
		b, _ := json.Marshal(res)
		fmt.Printf("BENCH %s\n", b)
		return
	}
	ctx := context.Background()
	s, st := childSender(t, dbPath, port, benchConcurrency)
	benchDKIM(t, s)
	// Both kinds of newsletter and topics: the send selects by preference
	// and topic (benchChoices), and renders in four languages.
	s.cfg.Newsletter, s.cfg.Topics, s.f.cfg.Topics = Both, testTopics, testTopics
	p := samplePost()
	p.Tags = []string{"vigil"}
	p.ID += "-" + os.Getenv("CRIER_EMAIL_BENCH_ROUND") // a new send each round
	if article := os.Getenv("CRIER_EMAIL_BENCH_ARTICLE"); article != "" {
		b, err := os.ReadFile(article)
		if err != nil {
			t.Fatal(err)
		}
		p.Body = string(b)
	}
	payload, err := s.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	// The snapshot is timed on its own, then the sending.
	snapStart := time.Now()
	if _, err := s.ledger.begin(ctx, m.SendID, "post", p.ID, m.Subject, m.source, s.selection("post", m)); err != nil {
		t.Fatal(err)
	}
	snap := time.Since(snapStart).Seconds()
	start := time.Now()
	if _, err := s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: "email", Attempt: 1}, payload); err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	sent := countSent(t, st.DB(), m.SendID)
	runtime.GC()
	b, _ := json.Marshal(benchResult{Messages: sent, Seconds: secs, PerSec: float64(sent) / secs, VmHWMkB: vmHWM(), Snapshot: snap, CPU: cpuSeconds(), MsgBytes: len(payload.Files[0].Data)})
	fmt.Printf("BENCH %s\n", b)
}

// benchDKIM has s sign with DKIM when CRIER_EMAIL_BENCH_DKIM names a PEM
// private key file (RSA or Ed25519), as the daemon's config would.
func benchDKIM(t *testing.T, s *Sender) {
	keyFile := os.Getenv("CRIER_EMAIL_BENCH_DKIM")
	if keyFile == "" {
		return
	}
	cfg := s.cfg
	cfg.DKIM = DKIM{Domain: "camaca.org", Selector: "crier", KeyFile: keyFile}
	dk, err := cfg.dkimSigner()
	if err != nil {
		t.Fatal(err)
	}
	s.dkim = dk
}

func countSent(t testing.TB, db *sql.DB, sendID string) int64 {
	var n int64
	if err := db.QueryRow(`SELECT COUNT(*) FROM email_recipients WHERE send_id = $1 AND state = 'sent'`, sendID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// vmHWM is the process's peak resident set size in kB.
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
