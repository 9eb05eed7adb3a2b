package channeltest

// The corrections subtests (issue 23): for a channel whose sender is a
// channels.Corrector or channels.Withdrawer, a correction reads back once
// from the peer, a lost answer and its retry make no second correction, and
// withdrawing twice is harmless.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/post"
)

// Corrections is what the suite needs to check a channel's corrections
// against its peer.
type Corrections struct {
	// Style is the correction style checked (channels.CorrectInPlace, or
	// CorrectByReply for a network that cannot edit).
	Style channels.CorrectionStyle
	// Changes picks the requests that change or add a message in a
	// correction (an edit, a reply): the lost answer is injected there.
	Changes func(r *http.Request) bool
	// Read returns the text the peer shows now for the message with
	// remoteID (a part, or a reply), and false when it is gone.
	Read func(t *testing.T, remoteID string) (string, bool)
	// Revisions counts the edit revisions the peer keeps of a message (nil:
	// the network shows none, or cannot edit).
	Revisions func(t *testing.T, remoteID string) int
}

// corrections runs the subtests, or logs why the channel has none.
func (e *env) corrections(t *testing.T) {
	cr := e.h.Corrections
	if cr == nil {
		// Like LostAnswer: a channel says why, never silently.
		if e.h.NoCorrections == "" {
			t.Fatalf("%s: the harness sets neither Corrections nor NoCorrections (why its corrections are not checked)", e.typ)
		}
		t.Logf("%s: corrections not checked: %s", e.typ, e.h.NoCorrections)
		return
	}
	t.Run("CorrectReadsBack", func(t *testing.T) { e.correctReadsBack(t, cr) })
	t.Run("CorrectLostAnswer", func(t *testing.T) { e.correctLostAnswer(t, cr) })
	t.Run("WithdrawTwice", e.withdrawTwice)
}

// sent delivers a new post and returns it with the parts its ledger holds.
func (e *env) sent(t *testing.T, c conn, what string) (post.Post, []channels.Part) {
	t.Helper()
	p := e.sample(t, what)
	l := &ledger{}
	e.deliver(t, c, channels.Delivery{PostID: p.ID, Channel: e.typ, Attempt: 1, Ledger: l}, format(t, c.f, p))
	parts, _ := l.Parts(context.Background())
	return p, parts
}

// toCorrect is a delivered post, what the peer held before its correction,
// and the correction: the post with marker in every text a channel may
// show, and the organiser's note.
type toCorrect struct {
	parts        []channels.Part
	before       int   // messages on the peer
	revs         []int // each part's edit revisions
	fixed        post.Post
	note, marker string
}

func (e *env) toCorrect(t *testing.T, c conn, cr *Corrections, what, marker string) toCorrect {
	t.Helper()
	p, parts := e.sent(t, c, what)
	k := toCorrect{parts: parts, before: e.peer.Count(t), revs: e.revisions(t, cr, parts), fixed: p, marker: marker}
	k.fixed.Title += " " + marker
	k.fixed.Summary = marker + " " + p.Summary
	k.fixed.Body = marker + " " + p.Body
	k.note = "The vigil starts at eight, not seven (" + marker + ")."
	return k
}

// correct runs one attempt of a correction with c's sender, which must be
// a Corrector; attempt numbers it as the correction job does.
func (e *env) correct(t *testing.T, c conn, cr *Corrections, p post.Post, parts []channels.Part, rev, attempt int, note string) ([]channels.PartResult, error) {
	t.Helper()
	corr, ok := c.s.(channels.Corrector)
	if !ok {
		t.Fatalf("%s: the harness has Corrections but the sender (%T) is no channels.Corrector", e.typ, c.s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return corr.Correct(ctx, channels.Correction{PostID: p.ID, Channel: e.typ, Revision: rev, Attempt: attempt, Parts: parts, Note: note, Style: cr.Style}, format(t, c.f, p))
}

// correctReadsBack checks that the peer shows a correction, once.
func (e *env) correctReadsBack(t *testing.T, cr *Corrections) {
	c := e.connect(t)
	k := e.toCorrect(t, c, cr, "correct reads back", "CORRECTED-1")
	res, err := e.correct(t, c, cr, k.fixed, k.parts, 1, 1, k.note)
	if err != nil {
		t.Fatalf("Correct: %v", err)
	}
	e.showsCorrection(t, cr, res, k.marker)
	e.correctedOnce(t, cr, k)
}

// correctLostAnswer loses the answer to the first change of a correction
// after the peer acted; the retry (a new sender: a restarted daemon) must
// find it and change nothing twice.
func (e *env) correctLostAnswer(t *testing.T, cr *Corrections) {
	k := e.toCorrect(t, e.connect(t), cr, "correct lost answer", "CORRECTED-2")
	lossy := e.connectPicking(t, cr.Changes, nil)
	lossy.net.Inject(Fault{Name: "lost answer", LoseAnswer: true})
	if _, err := e.correct(t, lossy, cr, k.fixed, k.parts, 1, 1, k.note); err == nil {
		t.Logf("the correction found its own change despite the lost answer")
	} else {
		t.Logf("first attempt: %v (%s)", err, kindOf(err))
	}
	lossy.net.Clear()
	res, err := e.correct(t, e.connect(t), cr, k.fixed, k.parts, 1, 2, k.note)
	if err != nil {
		t.Fatalf("the retry: %v", err)
	}
	e.showsCorrection(t, cr, res, k.marker)
	e.correctedOnce(t, cr, k)
}

// withdrawTwice withdraws a delivered post, then again: the second finds
// every part gone and is no error.
func (e *env) withdrawTwice(t *testing.T) {
	c := e.connect(t)
	before := e.peer.Count(t)
	p, parts := e.sent(t, c, "withdraw twice")
	wd, ok := c.s.(channels.Withdrawer)
	if !ok {
		t.Skipf("%s: the sender (%T) cannot withdraw", e.typ, c.s)
	}
	w := channels.Withdrawal{PostID: p.ID, Channel: e.typ, Parts: parts, Reason: "named the wrong person"}
	for round, want := range []channels.Outcome{channels.OutcomeDeleted, channels.OutcomeGone} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := wd.Withdraw(ctx, w)
		cancel()
		if err != nil {
			t.Fatalf("withdrawal %d: %v", round+1, err)
		}
		if len(res) != len(parts) {
			t.Errorf("withdrawal %d: %d results for %d parts", round+1, len(res), len(parts))
		}
		for _, r := range res {
			if r.Outcome != want {
				t.Errorf("withdrawal %d: part %d is %q, want %q", round+1, r.Index+1, r.Outcome, want)
			}
		}
		// A server may finish a deletion in the background (GoToSocial).
		after := 0
		if !testnet.Poll(30*time.Second, func() bool { after = e.peer.Count(t); return after == before }) {
			t.Errorf("withdrawal %d: the peer holds %d messages, %d before the post", round+1, after, before)
		}
	}
	if cr := e.h.Corrections; cr != nil {
		for _, part := range parts {
			if text, ok := cr.Read(t, part.RemoteID); ok {
				t.Errorf("part %d (%s) still reads %q after the withdrawal", part.Index+1, part.RemoteID, text)
			}
		}
	}
}

// showsCorrection checks that the peer shows marker on what the results
// name as changed.
func (e *env) showsCorrection(t *testing.T, cr *Corrections, res []channels.PartResult, marker string) {
	t.Helper()
	changed := 0
	for _, r := range res {
		switch r.Outcome {
		case channels.OutcomeEdited, channels.OutcomeReplied, channels.OutcomeReposted, channels.OutcomeUnchanged:
		default:
			t.Errorf("part %d: outcome %q for a correction", r.Index+1, r.Outcome)
			continue
		}
		text, ok := cr.Read(t, r.RemoteID)
		switch {
		case !ok:
			t.Errorf("part %d: %s is not on the peer", r.Index+1, r.RemoteID)
		case strings.Contains(text, marker):
			changed++
		}
	}
	if changed == 0 {
		t.Errorf("the peer shows %q nowhere after the correction (results %+v)", marker, res)
	}
}

// correctedOnce checks the peer holds one correction: a reply adds one
// message, an edit none and one revision per part.
func (e *env) correctedOnce(t *testing.T, cr *Corrections, k toCorrect) {
	t.Helper()
	want := k.before
	if cr.Style == channels.CorrectByReply {
		want++
	}
	if after := e.peer.Count(t); after != want {
		t.Errorf("the peer holds %d messages after the correction, want %d", after, want)
	}
	now := e.revisions(t, cr, k.parts)
	for i := range k.revs {
		if now[i] > k.revs[i]+1 {
			t.Errorf("part %d has %d edit revisions, %d before one correction", i+1, now[i], k.revs[i])
		}
	}
}

// revisions counts each part's edit revisions (none where the harness
// cannot see them).
func (e *env) revisions(t *testing.T, cr *Corrections, parts []channels.Part) []int {
	out := make([]int, len(parts))
	if cr.Revisions == nil {
		return out
	}
	for i, p := range parts {
		out[i] = cr.Revisions(t, p.RemoteID)
	}
	return out
}

func kindOf(err error) string {
	k, _ := channels.Classify(err)
	return fmt.Sprint(k)
}
