package newsletter

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
)

// The newsletter benchmark on both databases (docs/BENCHMARKS.md), side by
// side in one run:
//
//	CRIER_EMAIL_BENCH_DRIVERS=100000 go test -count=1 ./newsletter -run 'TestNewsletterBenchmarkDrivers$' -v -timeout 60m
//
// Each round measures, one after the other: the ceiling (as in
// TestNewsletterBenchmark), the send of a new post to all N on SQLite, on
// PostgreSQL with one replica, on PostgreSQL with two replica processes
// sharing the send, and the ceiling again. Every send is timed from its
// first message's start to the sink receiving the last one (the snapshot is
// made before), so the replicas' start-up is not counted and two replicas
// are timed exactly like one. CRIER_EMAIL_BENCH_ROUNDS (default 3).
func TestNewsletterBenchmarkDrivers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_DRIVERS"))
	if n <= 0 {
		t.Skip("set CRIER_EMAIL_BENCH_DRIVERS=100000 to run the newsletter benchmark on SQLite and PostgreSQL")
	}
	rounds := 3
	if r, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_ROUNDS")); r > 0 {
		rounds = r
	}
	// CRIER_EMAIL_BENCH_CONFIGS picks the set-ups (sqlite, pg1, pg2; all
	// by default), and CRIER_EMAIL_BENCH_NO_CEILING=1 leaves the ceiling
	// out: at 1,000,000 subscribers each costs many minutes.
	configs := os.Getenv("CRIER_EMAIL_BENCH_CONFIGS")
	if configs == "" {
		configs = "sqlite,pg1,pg2"
	}
	want := func(c string) bool { return slices.Contains(strings.Split(configs, ","), c) }
	ceiling := os.Getenv("CRIER_EMAIL_BENCH_NO_CEILING") == ""
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	if want("sqlite") || ceiling {
		fillSubscribers(t, dbPath, n)
	}
	var dsn string
	if want("pg1") || want("pg2") {
		dsn = pgpeer.DSN(t)
		fillSubscribers(t, dsn, n)
	}
	sk := startSink(t, false)
	ratios := map[string][]float64{}
	var twoOverOne []float64 // two replicas' rate over one's, round by round
	for round := 1; round <= rounds; round++ {
		var c1, c2 benchResult
		if ceiling {
			c1, _ = runBenchChild(t, sk, dbPath, "ceiling", round, n/2)
		}
		rates := map[string]float64{}
		for _, run := range []struct {
			config, name, target string
			replicas             int
		}{{"sqlite", "sqlite", dbPath, 1}, {"pg1", "postgres, 1 replica", dsn, 1}, {"pg2", "postgres, 2 replicas", dsn, 2}} {
			if want(run.config) {
				rates[run.name] = runReplicaBench(t, sk, run.target, round, n, run.replicas)
			}
		}
		if want("pg1") && want("pg2") {
			twoOverOne = append(twoOverOne, rates["postgres, 2 replicas"]/rates["postgres, 1 replica"])
		}
		if !ceiling {
			continue
		}
		c2, _ = runBenchChild(t, sk, dbPath, "ceiling", round, n/2)
		ceil := (c1.PerSec + c2.PerSec) / 2
		t.Logf("round %d: ceiling %.0f msg/s (before %.0f, after %.0f)", round, ceil, c1.PerSec, c2.PerSec)
		for name, rate := range rates {
			r := 100 * rate / ceil
			ratios[name] = append(ratios[name], r)
			t.Logf("round %d: %s: %.0f msg/s, %.0f%% of the ceiling", round, name, rate, r)
		}
	}
	for name, rs := range ratios {
		t.Logf("median of %d rounds: %s sends at %.0f%% of the ceiling", rounds, name, median(rs))
	}
	if len(twoOverOne) > 0 {
		t.Logf("median of %d rounds: two PostgreSQL replicas send at %.2f times the rate of one in the same round", rounds, median(twoOverOne))
	}
}

// runReplicaBench sends a new post to all n subscribers of target with
// replicas child processes (the first owns the send, the others help) and
// returns the rate from the first message to the last.
func runReplicaBench(t *testing.T, sk *sink, target string, round, n, replicas int) float64 {
	t.Helper()
	sk.messages.Store(0)
	// The snapshot first, in this process, so that it is not timed.
	tag := fmt.Sprintf("%d-%d", round, replicas)
	sendID := prepareBenchSend(t, target, tag)
	var cmds []*exec.Cmd
	outs := make([]*syncBuf, replicas)
	testCPU0, pgCPU0 := cpuSeconds(), postgresCPUSeconds(target)
	start := time.Now()
	for i := range replicas {
		role := "owner"
		if i > 0 {
			role = "helper"
		}
		args := []string{"-test.run=^TestReplicaBenchChild$", "-test.v"}
		if prof := os.Getenv("CRIER_EMAIL_BENCH_CPUPROFILE"); prof != "" {
			args = append(args, "-test.cpuprofile="+prof+"."+driverOf(target)+"."+tag+"."+role)
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "CRIER_EMAIL_RBENCH="+role, "CRIER_EMAIL_RBENCH_TARGET="+target,
			"CRIER_EMAIL_RBENCH_SMTP="+strconv.Itoa(sk.addr.Port), "CRIER_EMAIL_RBENCH_ROUND="+tag)
		outs[i] = &syncBuf{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	var replicaCPU time.Duration
	var peakRSS int64 // the largest replica's, KiB
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("replica %d: %v\n%s", i, err, outs[i].String())
		}
		replicaCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peakRSS = max(peakRSS, ru.Maxrss) // KiB on Linux
		}
	}
	testCPU, pgCPU := cpuSeconds()-testCPU0, postgresCPUSeconds(target)-pgCPU0
	var first time.Time
	for _, o := range outs {
		for _, line := range strings.Split(o.String(), "\n") {
			if rest, ok := strings.CutPrefix(line, "FIRST "); ok {
				ns, _ := strconv.ParseInt(rest, 10, 64)
				if f := time.Unix(0, ns); first.IsZero() || f.Before(first) {
					first = f
				}
			}
		}
	}
	if first.IsZero() {
		first = start
	}
	got := sk.messages.Load()
	secs := time.Unix(0, sk.last.Load()).Sub(first).Seconds()
	st, err := store.OpenDriver(context.Background(), driverOf(target), target)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// Some of the n paused (benchChoices); the post has no topic and the
	// sender sends no digest, so lists and the digest choice do not matter.
	var want int64
	for i := range n {
		if pref, _, _ := benchChoices(i); pref != "paused" {
			want++
		}
	}
	if sent := countSent(t, st.DB(), sendID); sent != want || got < want {
		t.Fatalf("%d replicas on %s: ledger says %d sent, sink got %d, want %d", replicas, driverOf(target), sent, got, want)
	}
	if got > want {
		t.Errorf("%d replicas: %d second copies without any failure", replicas, got-want)
	}
	// Where the machine's CPU went, per 1,000 messages: the replicas
	// (start-up included), this process (mostly the sink) and PostgreSQL's
	// processes (all of them, backends that ended included; zero with SQLite).
	k := float64(want) / 1000
	t.Logf("%d replicas on %s: CPU per 1,000 messages: replicas %.0f ms, sink %.0f ms, PostgreSQL %.0f ms; peak memory of a replica %.0f MiB; %d messages at %.0f msg/s",
		replicas, driverOf(target), replicaCPU.Seconds()*1000/k, testCPU*1000/k, pgCPU*1000/k, float64(peakRSS)/1024, want, float64(want)/secs)
	return float64(want) / secs
}

// postgresCPUSeconds is the CPU time used so far by the PostgreSQL server
// of target (its postmaster, whose cutime holds its backends that ended, and
// its live children; /proc), found by the port on its command line: other
// servers on the machine (other tests') are not counted. 0 for SQLite.
func postgresCPUSeconds(target string) float64 {
	u, err := url.Parse(target)
	if err != nil || driverOf(target) != "postgres" {
		return 0
	}
	portArg := "\x00-p\x00" + u.Port() + "\x00"
	dirs, _ := os.ReadDir("/proc")
	type proc struct {
		ppid  string
		ticks int64
	}
	procs := map[string]proc{}
	master := ""
	for _, d := range dirs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime, stime, cutime, cstime are
		// fields 14 to 17.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 || !strings.Contains(string(b[:i]), "(postgres") {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		var ticks int64
		for _, v := range f[11:15] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
		procs[d.Name()] = proc{ppid: f[1], ticks: ticks}
		if cmd, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline")); err == nil && strings.Contains(string(cmd)+"\x00", portArg) {
			master = d.Name()
		}
	}
	var ticks int64
	for pid, p := range procs {
		if master != "" && (pid == master || p.ppid == master) {
			ticks += p.ticks
		}
	}
	return float64(ticks) / 100 // USER_HZ
}

func driverOf(target string) string {
	if strings.HasPrefix(target, "postgres://") {
		return "postgres"
	}
	return "sqlite"
}

// benchPost is the round's post (a new send each round).
func benchPost(round string) (string, func(*Sender) (*Message, error)) {
	p := samplePost()
	p.ID += "-drivers-" + round
	if article := os.Getenv("CRIER_EMAIL_BENCH_ARTICLE"); article != "" {
		b, err := os.ReadFile(article)
		if err != nil {
			panic(fmt.Sprintf("CRIER_EMAIL_BENCH_ARTICLE: %v", err))
		}
		p.Body = string(b)
	}
	return p.ID, func(s *Sender) (*Message, error) {
		payload, err := s.f.Format(p)
		if err != nil {
			return nil, err
		}
		return payload.Body.(*Message), nil
	}
}

// prepareBenchSend snapshots the round's send into target's ledger.
func prepareBenchSend(t *testing.T, target, tag string) string {
	s, _ := childSender(t, target, 1, benchConcurrency)
	id, msg := benchPost(tag)
	m, err := msg(s)
	if err != nil {
		t.Fatal(err)
	}
	if s.ledger.d == sqldb.Postgres {
		// The previous send's dead rows are vacuumed first, as they would
		// be between real sends hours apart: otherwise autovacuum runs
		// during the next timed send and is counted against it.
		if _, err := s.ledger.db.Exec(`VACUUM email_recipients`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ledger.begin(context.Background(), m.SendID, "post", id, m.Subject, m.source, s.selection("post", m)); err != nil {
		t.Fatal(err)
	}
	return m.SendID
}

// TestReplicaBenchChild is a replica process of the drivers benchmark.
func TestReplicaBenchChild(t *testing.T) {
	role := os.Getenv("CRIER_EMAIL_RBENCH")
	if role == "" {
		t.Skip("helper process for TestNewsletterBenchmarkDrivers")
	}
	target := os.Getenv("CRIER_EMAIL_RBENCH_TARGET")
	port, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_RBENCH_SMTP"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, st := childSender(t, target, port, benchConcurrency, func(o *childOptions) {
		if driverOf(target) == "postgres" {
			o.background = ctx
		}
	})
	benchDKIM(t, s)
	id, msg := benchPost(os.Getenv("CRIER_EMAIL_RBENCH_ROUND"))
	m, err := msg(s)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("FIRST %d\n", time.Now().UnixNano())
	if role == "owner" {
		for {
			_, err := s.Send(ctx, channels.Delivery{PostID: id, Channel: "email", Attempt: 1}, channels.Payload{Body: m})
			if err == nil {
				return
			}
			if kind, wait := channels.Classify(err); kind == channels.KindRateLimited {
				time.Sleep(min(wait, 200*time.Millisecond)) // another replica holds the last pages
				continue
			}
			t.Fatal(err)
		}
	}
	// A helper: until the owner has finished the send. (It looks at the
	// send's state, not at its counts: counting the ledger's rows every
	// few milliseconds cost PostgreSQL more than the send itself.)
	for {
		var state string
		if err := st.DB().QueryRowContext(ctx, `SELECT state FROM email_sends WHERE id = $1`, m.SendID).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state != sendSending {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
