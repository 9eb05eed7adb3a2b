package newsletter

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

const (
	replicaChildEnv   = "CRIER_EMAIL_REPLICA_CHILD"
	replicaConcurency = 4
	replicaLease      = 2 * time.Second
)

// TestReplicaDiesMidSend: two replica processes share one newsletter send
// on PostgreSQL; the one whose job started it is killed with SIGKILL
// mid-send. The other finishes it (taking the dead one's rows once their
// lease runs out), nobody is missed, and the second copies stay within the
// dead replica's in-flight bound (checkpointWindow per SMTP connection). The send is then
// finished by the job's next attempt, as River's rescue would run it.
func TestReplicaDiesMidSend(t *testing.T) {
	if testing.Short() {
		t.Skip("replica test sends thousands of mails; skipped with -short")
	}
	ctx := context.Background()
	dsn := pgpeer.DSN(t)
	mp := mailpit.Start(t, mailpit.Options{})
	const total = 2000
	st, err := store.OpenDriver(ctx, "postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	for i := range total {
		if _, err := subs.Add(ctx, subscribers.Subscriber{Email: fmt.Sprintf("s%04d@example.org", i), Status: subscribers.Confirmed}); err != nil {
			t.Fatal(err)
		}
	}
	child := func(role string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestReplicaChild$", "-test.v")
		cmd.Env = append(os.Environ(), replicaChildEnv+"="+role, "CRIER_EMAIL_REPLICA_DSN="+dsn, "CRIER_EMAIL_REPLICA_SMTP="+strconv.Itoa(mp.SMTPPort))
		return cmd
	}
	owner, helper := child("owner"), child("helper")
	var helperOut syncBuf
	helper.Stdout, helper.Stderr = &helperOut, &helperOut
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		owner.Process.Kill()
		t.Fatal(err)
	}
	defer helper.Process.Kill()
	// Kill the owner once the send is well under way (a third sent).
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := mp.Count(ctx)
		if err != nil {
			owner.Process.Kill()
			t.Fatal(err)
		}
		if n >= total/3 {
			break
		}
		if time.Now().After(deadline) {
			owner.Process.Kill()
			t.Fatalf("the send did not get going (%d messages)", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
	owner.Process.Kill() // SIGKILL
	owner.Wait()
	done := make(chan error, 1)
	go func() { done <- helper.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("helper replica: %v\n%s", err, helperOut.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the surviving replica did not finish the send\n%s", helperOut.String())
	}

	if !strings.Contains(helperOut.String(), "helping with a newsletter send") {
		t.Errorf("the second replica never joined the send:\n%s", helperOut.String())
	}
	// The job's next attempt (River rescues it on a live replica) finds
	// everyone sent and finishes the send.
	s, _ := childSender(t, dsn, mp.SMTPPort, replicaConcurency)
	payload, err := s.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 2}, payload); err != nil {
		t.Fatal(err)
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
	bound := replicaConcurency * checkpointWindow
	t.Logf("%d recipients, owner killed at a third, %d second copies (bound %d)", total, dups, bound)
	if dups > bound {
		t.Errorf("%d second copies, more than the dead replica's in-flight bound %d", dups, bound)
	}
	ps, err := SendProgress(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Sent != total || ps[0].State != "done" {
		t.Errorf("progress %+v", ps)
	}
}

// TestReplicaChild is a replica process of TestReplicaDiesMidSend: the
// "owner" runs the delivery job's send (and helps, as every replica does),
// the "helper" only helps, until no recipient is left.
func TestReplicaChild(t *testing.T) {
	role := os.Getenv(replicaChildEnv)
	if role == "" {
		t.Skip("helper process for TestReplicaDiesMidSend")
	}
	dsn := os.Getenv("CRIER_EMAIL_REPLICA_DSN")
	port, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_REPLICA_SMTP"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, st := childSender(t, dsn, port, replicaConcurency, func(o *childOptions) {
		o.background = ctx
		o.sender = []Option{WithLease(replicaLease)}
		o.verbose = role == "helper"
	})
	if role == "owner" {
		payload, err := s.f.Format(samplePost())
		if err != nil {
			t.Fatal(err)
		}
		// It is killed before it ends.
		_, err = s.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 1}, payload)
		t.Fatalf("the owner was not killed: %v", err)
	}
	for {
		ps, err := SendProgress(ctx, st.DB())
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 1 && ps[0].Pending == 0 {
			return // nothing pending or in hand anywhere
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// syncBuf is a bytes.Buffer safe to write from a child's output pipes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestLeaseRenewal: renew pushes forward the lease on this replica's rows in
// hand, and only those; a row whose lease ran out is claimed again.
func TestLeaseRenewal(t *testing.T) { pgpeer.EachDriver(t, testLeaseRenewal) }

func testLeaseRenewal(t *testing.T, driver string) {
	ctx := context.Background()
	sk := startSink(t, false)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), nil, WithClock(clock))
	for i := range 3 {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	l := fx.sender.ledger
	if _, err := l.begin(ctx, m.SendID, "post", "md:vigil", m.Subject, m.source, subscribers.Selection{Preferences: []string{"each_post", "digest"}, General: true}); err != nil {
		t.Fatal(err)
	}
	rs, _, err := l.claim(ctx, m.SendID, 0, 2)
	if err != nil || len(rs) != 2 {
		t.Fatalf("claim: %d %v", len(rs), err)
	}
	lease := func() map[int64]int64 {
		rows, err := fx.db.Query(`SELECT subscriber_id, lease_until FROM email_recipients WHERE send_id = $1 ORDER BY subscriber_id`, m.SendID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]int64{}
		for rows.Next() {
			var id, until int64
			rows.Scan(&id, &until)
			out[id] = until
		}
		return out
	}
	before := lease()
	now = now.Add(20 * time.Second)
	// The ids in hand, and one this replica does not hold (another's, or
	// one already sent): only the rows it holds are renewed.
	if err := l.renew(ctx, m.SendID, []int64{rs[0].id, rs[1].id, rs[1].id + 1}); err != nil {
		t.Fatal(err)
	}
	after := lease()
	renewed := 0
	for id, until := range after {
		if until != before[id] {
			renewed++
			if until != now.Add(l.lease).UnixNano() {
				t.Errorf("row %d renewed to %d", id, until)
			}
		}
	}
	if renewed != 2 {
		t.Errorf("%d rows renewed, want the 2 in hand: %v -> %v", renewed, before, after)
	}
	// Another replica (another ledger) takes the rows once the lease is
	// over, not before.
	other := *l
	other.replica = "other"
	if rs, _, err := other.claim(ctx, m.SendID, 0, 10); err != nil || len(rs) != 1 {
		t.Fatalf("another replica must get only the free row while the lease runs: %d %v", len(rs), err)
	}
	now = now.Add(l.lease + time.Second)
	// All three: the first replica's two, and its own one, whose lease it
	// did not renew either.
	if rs, _, err := other.claim(ctx, m.SendID, 0, 10); err != nil || len(rs) != 3 {
		t.Fatalf("another replica must take the rows of an expired lease: %d %v", len(rs), err)
	}
}

// TestAnyReplicaFinishesTheSend: the replica whose job owns a send dies,
// either holding the last recipients or right after the last mail; another
// replica, which never runs the send's job, sends what is left and marks
// the send done at once (crier status stops saying "sending" with nothing
// pending), without waiting minutes for River to rescue the job.
func TestAnyReplicaFinishesTheSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		// held is how many recipients the dead owner held; the rest it
		// had sent.
		held int
	}{{"owner held the last recipients", 5}, {"owner died after the last mail", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dsn := pgpeer.DSN(t)
			sk := startSink(t, false)
			const total = 40
			owner, st := childSender(t, dsn, sk.addr.Port, 2, func(o *childOptions) { o.sender = []Option{WithLease(time.Second)} })
			subs, err := subscribers.Open(ctx, st.DB())
			if err != nil {
				t.Fatal(err)
			}
			for i := range total {
				if _, err := subs.Add(ctx, subscribers.Subscriber{Email: fmt.Sprintf("s%02d@example.org", i), Status: subscribers.Confirmed}); err != nil {
					t.Fatal(err)
				}
			}
			// The owner's job starts the send, takes every recipient in
			// hand, sends all but the last held ones and dies.
			payload, err := owner.f.Format(samplePost())
			if err != nil {
				t.Fatal(err)
			}
			m := payload.Body.(*Message)
			if _, err := owner.ledger.begin(ctx, m.SendID, "post", "md:vigil", m.Subject, m.source, owner.selection("post", m)); err != nil {
				t.Fatal(err)
			}
			rs, _, err := owner.ledger.claim(ctx, m.SendID, 0, total)
			if err != nil || len(rs) != total {
				t.Fatalf("claim: %d %v", len(rs), err)
			}
			var marks []sentMark
			for _, r := range rs[:total-tc.held] {
				marks = append(marks, sentMark{id: r.id, at: time.Now()})
			}
			if err := owner.ledger.markSentBatch(ctx, m.SendID, marks); err != nil {
				t.Fatal(err)
			}
			// Another replica only helps.
			bg, cancel := context.WithCancel(ctx)
			defer cancel()
			childSender(t, dsn, sk.addr.Port, 2, func(o *childOptions) {
				o.background = bg
				o.sender = []Option{WithLease(time.Second)}
			})
			waitUntil(t, "another replica to mark the send done", 20*time.Second, func() bool {
				ps, err := SendProgress(ctx, st.DB())
				return err == nil && len(ps) == 1 && ps[0].State == "done"
			})
			ps, _ := SendProgress(ctx, st.DB())
			if ps[0].Sent != total || ps[0].Pending != 0 || int(sk.messages.Load()) != tc.held {
				t.Errorf("progress %+v, %d messages by the helping replica (want %d)", ps[0], sk.messages.Load(), tc.held)
			}
			// The owner's job, rescued later, finds the send done and
			// leaves it so (its finish time included).
			if _, err := owner.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 2}, payload); err != nil {
				t.Fatal(err)
			}
			again, _ := SendProgress(ctx, st.DB())
			if again[0].State != "done" || !again[0].FinishedAt.Equal(*ps[0].FinishedAt) || int(sk.messages.Load()) != tc.held {
				t.Errorf("after the owner's job: %+v (finished %v, before %v), %d messages", again[0], again[0].FinishedAt, ps[0].FinishedAt, sk.messages.Load())
			}
		})
	}
}
