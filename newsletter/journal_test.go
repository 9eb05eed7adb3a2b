package newsletter

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/subscribers"
)

func journalRecordBytes(id int64, at time.Time) []byte {
	b := make([]byte, journalRecord)
	binary.LittleEndian.PutUint64(b, uint64(id))
	binary.LittleEndian.PutUint64(b[8:], uint64(at.UnixNano()))
	return b
}

// TestJournalResume: a send that died with accepted messages only in its
// journal (not yet folded) resumes without sending those again, whatever the
// journal's tail looks like; the journal is removed when the send is done.
func TestJournalResume(t *testing.T) {
	ctx := context.Background()
	sk := startSink(t, true)
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, dbPath, nil)
	var subs []subscribers.Subscriber
	for i := range 6 {
		subs = append(subs, fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed))
	}
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	// An attempt took everyone in hand, the server accepted the first three
	// and the process died before any fold: the rows say "sending", the
	// journal holds three records and half of a fourth.
	if _, err := fx.sender.ledger.begin(ctx, m.SendID, "post", "md:vigil", m.Subject, m.source, subscribers.Selection{Preferences: []string{"each_post", "digest"}, General: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.sender.ledger.claim(ctx, m.SendID, 0, 100); err != nil {
		t.Fatal(err)
	}
	path, err := journalPath(ctx, fx.db, m.SendID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	var data []byte
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for _, s := range subs[:3] {
		data = append(data, journalRecordBytes(s.ID, at)...)
	}
	data = append(data, journalRecordBytes(subs[3].ID, at)[:7]...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}

	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for len(sk.rcpts) > 0 {
		got[<-sk.rcpts]++
	}
	for i, s := range subs {
		want := 1
		if i < 3 {
			want = 0 // already accepted, per the journal
		}
		if got[s.Email] != want {
			t.Errorf("%s got %d messages on resume, want %d (all: %v)", s.Email, got[s.Email], want, got)
		}
	}
	ps, err := SendProgress(ctx, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].Sent != 6 || ps[0].State != sendDone {
		t.Errorf("progress after resume: %+v", ps[0])
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the journal of a finished send is still there (%v)", err)
	}
}

// TestJournalFromAnotherDatabase: a journal whose send the database does not
// know (the database was deleted and made afresh next to the old journal
// folder) must not mark anyone as already sent.
func TestJournalFromAnotherDatabase(t *testing.T) {
	ctx := context.Background()
	sk := startSink(t, true)
	dbPath := filepath.Join(t.TempDir(), "crier.db")
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, dbPath, nil)
	a := fx.add(t, "a@example.org", "", subscribers.Confirmed)
	b := fx.add(t, "b@example.org", "", subscribers.Confirmed)
	payload, err := fx.sender.f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	path, err := journalPath(ctx, fx.db, payload.Body.(*Message).SendID)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	stale := append(journalRecordBytes(a.ID, time.Now()), journalRecordBytes(b.ID, time.Now())...)
	if err := os.WriteFile(path, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if n := len(sk.rcpts); n != 2 {
		t.Errorf("%d recipients got the post, want both: a stale journal was trusted", n)
	}
}
