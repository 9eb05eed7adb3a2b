package newsletter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/subscribers"
)

const (
	crashChildEnv   = "CRIER_EMAIL_CRASH_CHILD"
	crashConcurency = 4
)

// TestCrashResume sends to a few thousand subscribers in a child process,
// kills it with SIGKILL at several points, restarts it, and checks that
// everyone got exactly one copy, beyond at most crashConcurrency (the
// messages in flight) per kill.
func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test sends thousands of mails; skipped with -short")
	}
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	const total = 3000
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	for i := range total {
		if _, err := subs.Add(ctx, subscribers.Subscriber{Email: fmt.Sprintf("s%04d@example.org", i), Name: fmt.Sprintf("Supporter %d", i), Status: subscribers.Confirmed}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dbPath, "CRIER_EMAIL_CRASH_SMTP="+strconv.Itoa(mp.SMTPPort))
		return cmd
	}
	killAt := []int{200, 900, 1700, 2500}
	for _, at := range killAt {
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			n, err := mp.Count(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n >= at {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("the send did not reach %d messages (at %d)", at, n)
			}
			time.Sleep(2 * time.Millisecond)
		}
		cmd.Process.Kill() // SIGKILL
		cmd.Wait()
	}
	out, err := child().CombinedOutput()
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}

	got := inbox(t, mp)
	dups := 0
	for i := range total {
		addr := fmt.Sprintf("s%04d@example.org", i)
		switch n := len(got[addr]); {
		case n == 0:
			t.Errorf("%s got nothing", addr)
		case n > 1:
			dups += n - 1
		}
	}
	bound := len(killAt) * crashConcurency
	t.Logf("%d kills, %d recipients, %d second copies (bound %d)", len(killAt), total, dups, bound)
	if dups > bound {
		t.Errorf("%d second copies, more than the in-flight bound %d", dups, bound)
	}
	st, err = store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := SendProgress(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Sent != total || ps[0].State != "done" {
		t.Errorf("progress %+v", ps)
	}
}

// TestCrashChild is the child process of TestCrashResume.
func TestCrashChild(t *testing.T) {
	dbPath := os.Getenv(crashChildEnv)
	if dbPath == "" {
		t.Skip("helper process for TestCrashResume")
	}
	port, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_CRASH_SMTP"))
	ctx := context.Background()
	s, _ := childSender(t, dbPath, port, crashConcurency)
	payload, err := s.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 1}, payload); err != nil {
		t.Fatal(err)
	}
}

// childSender opens the store a parent test prepared and a real sender to
// the parent's SMTP server, for the child processes of the crash test and
// the benchmark.
func childSender(t *testing.T, dbPath string, port, concurrency int, opts ...childOption) (*Sender, *store.Store) {
	t.Helper()
	ctx := context.Background()
	var co childOptions
	for _, o := range opts {
		o(&co)
	}
	driver := "sqlite"
	if strings.HasPrefix(dbPath, "postgres://") {
		driver = "postgres"
	}
	st, err := store.OpenDriver(ctx, driver, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.SMTP = SMTP{Host: "127.0.0.1", Port: port, TLS: "none"}
	cfg.Concurrency = concurrency
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if co.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	s, err := NewSender(ctx, cfg, channels.Env{Campaign: testCampaign, DB: st.DB(), Logger: log, Background: co.background},
		subs, subscribers.NewSigner([]byte("test key, 32 bytes long, really")), co.sender...)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// childOptions shape a child process's sender.
type childOptions struct {
	background context.Context
	sender     []Option
	verbose    bool
}

type childOption func(*childOptions)
