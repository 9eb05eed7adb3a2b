package newsletter

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/crierhq/crier/sqldb"
)

// A send's checkpoints go first to an append-only journal file next to the
// database: one 16-byte record (subscriber id, time) written the moment the
// SMTP server accepted their message, before that connection is handed
// anything else. A write() costs a few microseconds where a SQLite commit
// per message cost about a hundred, and it survives a killed process just
// as a commit does (the store runs WAL with synchronous=NORMAL: neither is
// fsynced per message). The records are fsynced and folded into the ledger
// in batches (every foldEvery messages and every foldInterval), and an
// attempt that resumes a dead one folds whatever the journal holds beyond
// the last fold before it puts unrecorded rows back. So a killed process
// leaves at most one accepted but unrecorded message per SMTP connection;
// a system crash or power loss can also lose the records since the last
// fold (at most foldEvery, or one foldInterval of sending).
const (
	journalRecord = 16
	foldEvery     = 512
	foldInterval  = time.Second
	// maxUnfolded stops a send whose records cannot be folded (the
	// database is failing) before they take much memory.
	maxUnfolded = 64 * foldEvery
)

// On PostgreSQL there is no journal file: several replicas share a send, and
// a file on one machine is no checkpoint for the others. There each accepted
// message is checkpointed in the database itself, and a connection ends a
// message only while fewer than checkpointWindow of its accepted messages
// wait for their commit: a killed replica leaves at most checkpointWindow
// accepted but unrecorded messages per SMTP connection. The connections'
// checkpoints are committed together (groupCommit).

// journal is one send's checkpoint file and the records not yet folded.
type journal struct {
	l *ledger
	// direct: no file, every record is committed to the ledger before
	// record returns (PostgreSQL), through gc.
	direct bool
	gc     *groupCommit
	// sendID is the send the journal belongs to.
	sendID string
	path   string

	mu      sync.Mutex
	f       *os.File
	size    int64 // bytes written so far
	pending []sentMark
	rec     [journalRecord]byte

	foldMu sync.Mutex // one fold at a time
	kick   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

// sentMark is one recipient the server accepted a message for.
type sentMark struct {
	id int64
	at time.Time
}

// journalPath is where the journal of sendID lives: a folder next to the
// database file.
func journalPath(ctx context.Context, db *sql.DB, sendID string) (string, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return "", fmt.Errorf("finding the database file for the send journal: %w", err)
	}
	defer rows.Close()
	var file string
	for rows.Next() {
		var seq int
		var name, f string
		if err := rows.Scan(&seq, &name, &f); err != nil {
			return "", fmt.Errorf("finding the database file for the send journal: %w", err)
		}
		if name == "main" {
			file = f
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("finding the database file for the send journal: %w", err)
	}
	if file == "" {
		return "", errors.New("the send journal needs a database file (the store is in memory)")
	}
	sum := sha256.Sum256([]byte(sendID))
	return filepath.Join(file+"-email-journal", hex.EncodeToString(sum[:12])+".log"), nil
}

// openJournal opens (creating if need be) the journal of a send, folding
// into the ledger any records an earlier attempt wrote after its last fold.
func (l *ledger) openJournal(ctx context.Context, sendID string) (*journal, error) {
	if l.d == sqldb.Postgres {
		j := &journal{l: l, sendID: sendID, direct: true, done: make(chan struct{}),
			gc: newGroupCommit(l, sendID)}
		j.wg.Add(1)
		go func() {
			defer j.wg.Done()
			j.gc.run(j.done)
		}()
		return j, nil
	}
	path, err := journalPath(ctx, l.db, sendID)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the send journal folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the send journal of %s: %w", sendID, err)
	}
	j := &journal{l: l, sendID: sendID, path: path, f: f, kick: make(chan struct{}, 1), done: make(chan struct{})}
	if err := j.recover(ctx); err != nil {
		f.Close()
		return nil, err
	}
	j.wg.Add(1)
	go j.folder()
	return j, nil
}

// recover folds the records after the last fold and positions the file for
// appending (a record torn by a crash is cut off).
func (j *journal) recover(ctx context.Context) error {
	folded, exists, err := j.l.journalOffset(ctx, j.sendID)
	if err != nil {
		return err
	}
	info, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("reading the send journal of %s: %w", j.sendID, err)
	}
	size := info.Size() - info.Size()%journalRecord
	if !exists {
		// A journal without its send is left from another database (one
		// deleted and made afresh): it says nothing about this one.
		size = 0
	}
	if folded > size {
		// The file is shorter than what was folded from it (lost or
		// replaced): everything in it is already in the ledger.
		folded = size
	}
	var marks []sentMark
	if size > folded {
		buf := make([]byte, size-folded)
		if _, err := j.f.ReadAt(buf, folded); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the send journal of %s: %w", j.sendID, err)
		}
		for b := buf; len(b) >= journalRecord; b = b[journalRecord:] {
			id := int64(binary.LittleEndian.Uint64(b))
			at := int64(binary.LittleEndian.Uint64(b[8:]))
			if id == 0 {
				continue // a zero-filled tail after a system crash
			}
			marks = append(marks, sentMark{id: id, at: time.Unix(0, at)})
		}
	}
	if err := j.f.Truncate(size); err != nil {
		return fmt.Errorf("trimming the send journal of %s: %w", j.sendID, err)
	}
	if _, err := j.f.Seek(size, io.SeekStart); err != nil {
		return fmt.Errorf("trimming the send journal of %s: %w", j.sendID, err)
	}
	j.size = size
	if !exists {
		return nil
	}
	return j.l.foldSent(ctx, j.sendID, marks, size)
}

// recordAsync checkpoints one accepted message and returns the wait for it:
// in the file, the record is written when it returns (the wait is nil); in
// the database (PostgreSQL), the wait returns once it is committed.
func (j *journal) recordAsync(id int64, at time.Time) (func() error, error) {
	if j.direct {
		return j.gc.queue(id, at), nil
	}
	return nil, j.record(id, at)
}

// record checkpoints one accepted message: when it returns nil the record is
// in the file.
func (j *journal) record(id int64, at time.Time) error {
	if j.direct {
		return j.gc.record(id, at)
	}
	j.mu.Lock()
	binary.LittleEndian.PutUint64(j.rec[:], uint64(id))
	binary.LittleEndian.PutUint64(j.rec[8:], uint64(at.UnixNano()))
	if _, err := j.f.Write(j.rec[:]); err != nil {
		j.mu.Unlock()
		return fmt.Errorf("recording the message to subscriber %d of %s as sent: %w", id, j.sendID, err)
	}
	j.size += journalRecord
	j.pending = append(j.pending, sentMark{id: id, at: at})
	full := len(j.pending) >= foldEvery
	stuck := len(j.pending) >= maxUnfolded
	j.mu.Unlock()
	if stuck {
		// The record is in the file: the next attempt folds it.
		return fmt.Errorf("send %s: %d sent messages could not be written into the send ledger (see the errors above); stopping", j.sendID, maxUnfolded)
	}
	if full {
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// folder folds the pending records into the ledger in the background.
func (j *journal) folder() {
	defer j.wg.Done()
	t := time.NewTicker(foldInterval)
	defer t.Stop()
	for {
		select {
		case <-j.done:
			return
		case <-j.kick:
		case <-t.C:
		}
		if err := j.fold(context.Background()); err != nil {
			// The records stay in the file and are folded by the next
			// fold, or by the next attempt.
			j.l.log.Error("folding sent messages into the send ledger", "send", j.sendID, "err", err)
		}
	}
}

// fold writes the pending records into the ledger in one transaction.
func (j *journal) fold(ctx context.Context) error {
	if j.direct {
		return nil
	}
	j.foldMu.Lock()
	defer j.foldMu.Unlock()
	j.mu.Lock()
	marks, size := j.pending, j.size
	j.pending = nil
	j.mu.Unlock()
	if len(marks) == 0 {
		return nil
	}
	// On disk before the ledger says how far it is folded: after a system
	// crash or power loss, at most the records since the last fold are
	// gone (those recipients may get a second copy).
	err := j.f.Sync()
	if err == nil {
		err = j.l.foldSent(ctx, j.sendID, marks, size)
	}
	if err != nil {
		j.mu.Lock()
		j.pending = append(marks, j.pending...)
		j.mu.Unlock()
		return err
	}
	return nil
}

// close folds what is left and closes the file.
func (j *journal) close(ctx context.Context) error {
	if j.direct {
		close(j.done)
		j.wg.Wait()
		return nil
	}
	close(j.done)
	j.wg.Wait()
	err := j.fold(ctx)
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing the send journal of %s: %w", j.sendID, cerr)
	}
	return err
}

// removeJournal deletes a finished send's journal (everything in it is in
// the ledger).
func (l *ledger) removeJournal(ctx context.Context, sendID string) error {
	if l.d == sqldb.Postgres {
		return nil
	}
	path, err := journalPath(ctx, l.db, sendID)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the send journal of %s: %w", sendID, err)
	}
	return nil
}

// groupCommit commits the checkpoints of a send's connections together.
// A commit costs PostgreSQL far more than the rows in it (a commit per
// accepted message took about a quarter of the machine's CPU in the
// benchmark), so a commit waits up to gcDelay for more checkpoints, unless
// a connection is already waiting for one: connections run up to
// checkpointWindow messages ahead of their checkpoints, and only wait when
// they reach it.
type groupCommit struct {
	l      *ledger
	sendID string
	// kick: a checkpoint was queued; urgent: a connection waits for one.
	kick, urgent chan struct{}

	mu      sync.Mutex
	marks   []sentMark
	waiters []chan error
}

// gcDelay is how long a checkpoint may wait for others to share its
// commit, when no connection waits for it.
const gcDelay = 2 * time.Millisecond

func newGroupCommit(l *ledger, sendID string) *groupCommit {
	return &groupCommit{l: l, sendID: sendID, kick: make(chan struct{}, 1), urgent: make(chan struct{}, 1)}
}

// record queues a checkpoint and waits until it is committed.
func (g *groupCommit) record(id int64, at time.Time) error {
	return g.queue(id, at)()
}

// queue queues a checkpoint and returns the wait for its commit.
func (g *groupCommit) queue(id int64, at time.Time) func() error {
	ch := make(chan error, 1)
	g.mu.Lock()
	g.marks = append(g.marks, sentMark{id: id, at: at})
	g.waiters = append(g.waiters, ch)
	g.mu.Unlock()
	signal(g.kick)
	return func() error {
		select {
		case err := <-ch:
			return err
		default:
		}
		signal(g.urgent)
		return <-ch
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// run commits what is queued, one statement at a time, until done.
func (g *groupCommit) run(done chan struct{}) {
	t := time.NewTimer(gcDelay)
	defer t.Stop()
	for {
		select {
		case <-done:
			g.commit() // nothing waits after close, but be sure
			return
		case <-g.kick:
		}
		t.Reset(gcDelay)
		select {
		case <-done:
		case <-g.urgent:
		case <-t.C:
		}
		g.commit()
		g.mu.Lock()
		more := len(g.marks) > 0
		g.mu.Unlock()
		if more {
			signal(g.kick)
		}
	}
}

func (g *groupCommit) commit() {
	g.mu.Lock()
	marks, waiters := g.marks, g.waiters
	g.marks, g.waiters = nil, nil
	g.mu.Unlock()
	if len(marks) == 0 {
		return
	}
	err := g.l.markSentBatch(context.Background(), g.sendID, marks)
	for _, w := range waiters {
		w <- err
	}
}
