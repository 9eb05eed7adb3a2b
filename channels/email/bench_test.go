package email

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

// The newsletter benchmark: run with
//
//	CRIER_EMAIL_BENCH=100000 go test ./channels/email -run TestNewsletterBenchmark -v -timeout 60m
//
// It fills a store with N confirmed subscribers, then in the same run
// measures (1) the ceiling: go-mail sending one pre-built message over
// `concurrency` connections to an in-process go-smtp sink that discards,
// with no store and no templates, and (2) the real send of a post to all N
// in a child process (so its peak RSS, VmHWM, is the sender's alone) to the
// same sink with the same number of connections.

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
	// The ceiling is measured before and after the real send and averaged:
	// this machine is shared, and its load drifts over minutes. Both run in
	// a child process against the sink in this one, so that they pay the
	// same cross-process wake-ups (an in-process ceiling would not, and its
	// sink would cost a third less CPU per message).
	before, beforeSink := runBenchChild(t, sk, dbPath, "ceiling", ceilingN/2)
	t.Logf("ceiling before: %d pre-built messages over %d connections in %.2fs: %.0f msg/s", before.Messages, benchConcurrency, before.Seconds, before.PerSec)
	res, sinkCPU := runBenchChild(t, sk, dbPath, "newsletter", n)
	after, afterSink := runBenchChild(t, sk, dbPath, "ceiling", ceilingN/2)
	t.Logf("ceiling after: %d pre-built messages over %d connections in %.2fs: %.0f msg/s", after.Messages, benchConcurrency, after.Seconds, after.PerSec)
	ceiling := (before.PerSec + after.PerSec) / 2
	ceilingMsgs := float64(before.Messages + after.Messages)
	ceilingSender := (before.CPU + after.CPU) / ceilingMsgs * 1e6
	ceilingSink := (beforeSink + afterSink) / ceilingMsgs * 1e6
	oursSender := res.CPU / float64(res.Messages) * 1e6
	oursSink := sinkCPU / float64(res.Messages) * 1e6
	t.Logf("CPU per message: ceiling %.0f µs (sender %.0f + sink %.0f), newsletter %.0f µs (sender %.0f + sink %.0f): the newsletter does %.0f%% of the ceiling's work rate",
		ceilingSender+ceilingSink, ceilingSender, ceilingSink, oursSender+oursSink, oursSender, oursSink, 100*(ceilingSender+ceilingSink)/(oursSender+oursSink))
	t.Logf("newsletter: %d personalised messages over %d connections in %.2fs (snapshot %.2fs): %.0f msg/s = %.0f%% of the ceiling (%.0f msg/s); peak RSS %d MB",
		res.Messages, benchConcurrency, res.Seconds, res.Snapshot, res.PerSec, 100*res.PerSec/ceiling, ceiling, res.VmHWMkB/1024)
}

// runBenchChild runs TestNewsletterBenchChild in a child process in mode
// "ceiling" or "newsletter" for n messages, checks the sink got them all,
// and returns the child's figures and the CPU the sink (this process) spent
// meanwhile.
func runBenchChild(t *testing.T, sk *sink, dbPath, mode string, n int) (benchResult, float64) {
	t.Helper()
	sk.messages.Store(0)
	args := []string{"-test.run=^TestNewsletterBenchChild$", "-test.v"}
	if prof := os.Getenv("CRIER_EMAIL_BENCH_CPUPROFILE"); prof != "" {
		// The senders' CPU profiles (go tool pprof FILE.newsletter, and
		// FILE.ceiling for the last ceiling run).
		args = append(args, "-test.cpuprofile="+prof+"."+mode)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CRIER_EMAIL_BENCH_CHILD="+dbPath, "CRIER_EMAIL_BENCH_SMTP="+strconv.Itoa(sk.addr.Port),
		"CRIER_EMAIL_BENCH_MODE="+mode, "CRIER_EMAIL_BENCH_N="+strconv.Itoa(n))
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
	if res.Messages != int64(n) || sk.messages.Load() != int64(n) {
		t.Fatalf("%s: sent %d, sink got %d, want %d\n%s", mode, res.Messages, sk.messages.Load(), n, out)
	}
	return res, sinkCPU
}

// fillSubscribers writes n confirmed subscribers straight into the table
// (Add one by one would take most of the benchmark's time).
func fillSubscribers(t *testing.T, dbPath string, n int) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbPath)
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
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, created_at, updated_at) VALUES ($1, $2, 'confirmed', $3, $3)`)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < min(from+10000, n); i++ {
			if _, err := stmt.ExecContext(ctx, fmt.Sprintf("supporter%07d@example.org", i), fmt.Sprintf("Supporter %d", i), now); err != nil {
				t.Fatal(err)
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// measureCeiling sends n copies of one pre-built message (the same
// newsletter, same size) with go-mail over benchConcurrency connections.
func measureCeiling(t *testing.T, port, n int) benchResult {
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
		msg, err := f.build(m.Subject, m.HTML, m.Text, mustAddr("supporter0000001@example.org"), "ceiling@camaca.org", time.Now(), "https://news.camaca.org/unsubscribe?t=u.1.0.abcdefghijklmnopqrstuvwxyz0")
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
				if err := client.SendWithSMTPClient(conn, msg); err != nil {
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
	if os.Getenv("CRIER_EMAIL_BENCH_MODE") == "ceiling" {
		n, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_N"))
		res := measureCeiling(t, port, n)
		res.CPU = cpuSeconds()
		b, _ := json.Marshal(res)
		fmt.Printf("BENCH %s\n", b)
		return
	}
	ctx := context.Background()
	s, st := childSender(t, dbPath, port, benchConcurrency)
	payload, err := s.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	// The snapshot is timed on its own, then the sending.
	snapStart := time.Now()
	if _, err := s.ledger.begin(ctx, m.SendID, "post", "md:vigil", m.Subject); err != nil {
		t.Fatal(err)
	}
	snap := time.Since(snapStart).Seconds()
	start := time.Now()
	if _, err := s.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 1}, payload); err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	sent := countSent(t, st.DB(), m.SendID)
	runtime.GC()
	b, _ := json.Marshal(benchResult{Messages: sent, Seconds: secs, PerSec: float64(sent) / secs, VmHWMkB: vmHWM(), Snapshot: snap, CPU: cpuSeconds()})
	fmt.Printf("BENCH %s\n", b)
}

func countSent(t *testing.T, db *sql.DB, sendID string) int64 {
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
