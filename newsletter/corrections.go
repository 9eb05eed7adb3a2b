package newsletter

// Corrections and withdrawals of a post's newsletter (issue 23). A sent
// mail cannot change: the archive copy is corrected and says "Corrected on
// DATE: WHAT", and, when the organiser asks, a correction mail goes to
// exactly the supporters the original reached, once each, through the same
// send ledger (its own send, "correction:<post>:r<revision>", whose
// recipients are the original send's sent rows). Withdrawing hides the
// archive copy with its reason and stops a send still in progress.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/channels"
)

// What the newsletter implements of issue 23's capabilities.
var (
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
)

// correctionSource makes a send a correction: what was corrected, when,
// and the send whose recipients it goes to.
type correctionSource struct {
	Of   string    `json:"of"`
	Note string    `json:"note"`
	At   time.Time `json:"at"`
}

// CorrectionSendID names the correction mail of one revision in the send
// ledger.
func CorrectionSendID(postID string, revision int) string {
	return "correction:" + postID + ":r" + strconv.Itoa(revision)
}

// day is a correction's date in the campaign's time zone.
func (f *Formatter) day(t time.Time) string {
	loc := f.campaign.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2 January 2006")
}

// Correct corrects the archive copy of the post's newsletter and, with
// c.Mail, sends the correction mail to the original's recipients. A
// resumed send (a long list, a restart) goes on where it stopped and is
// RateLimited until done, like a newsletter's.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	m, err := channels.BodyOf[*Message](p)
	if err != nil {
		return nil, err
	}
	orig := m.SendID
	if ok, err := s.ledger.exists(ctx, orig); err != nil {
		return nil, channels.Temporary(err)
	} else if !ok {
		return nil, channels.Permanent(fmt.Errorf("no newsletter of this post was sent (it went out in a digest, or not at all): there is no mail or archive copy to correct"))
	}
	at := c.At
	if at.IsZero() {
		at = s.opts.now()
	}
	src := m.source
	src.Correction = &correctionSource{Of: orig, Note: c.Note, At: at}
	corrected, err := s.f.formatSource(orig, src)
	if err != nil {
		return nil, channels.Permanent(err)
	}
	html, err := s.f.WebVersion(corrected.Body.(*Message))
	if err != nil {
		return nil, channels.Permanent(err)
	}
	if err := s.archive.Correct(ctx, orig, m.Subject, html, c.Note, at); err != nil && !errors.Is(err, archive.ErrNotFound) {
		return nil, channels.Temporary(err)
	}
	res := channels.PartResult{Index: 0, Outcome: channels.OutcomeEdited, RemoteID: orig, RemoteURL: s.f.publicURL() + archive.Path(orig),
		Note: "the archive copy is corrected; mails already sent cannot change"}
	if !c.Mail {
		return []channels.PartResult{res}, nil
	}
	sendID := CorrectionSendID(c.PostID, c.Revision)
	mail, err := s.f.formatSource(sendID, src)
	if err != nil {
		return nil, channels.Permanent(err)
	}
	if _, err := s.run(ctx, mail.Body.(*Message), "correction", c.PostID); err != nil {
		return []channels.PartResult{res}, err
	}
	n, err := s.ledger.counts(ctx, sendID)
	if err != nil {
		return nil, channels.Temporary(err)
	}
	mailRes := channels.PartResult{Index: 0, Outcome: channels.OutcomeReplied, RemoteID: sendID,
		Note: fmt.Sprintf("correction mail sent to %d of the original's recipients (%d failed, %d had left)", n[rcptSent], n[rcptFailed], n[rcptSkipped])}
	return []channels.PartResult{res, mailRes}, nil
}

// Withdraw hides the archive copy with the reason and stops the send if it
// is still going (its pending recipients are skipped). Twice is harmless.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	id := "post:" + w.PostID
	stopped, err := s.ledger.stop(ctx, id)
	if err != nil {
		return nil, channels.Temporary(err)
	}
	res := channels.PartResult{Index: 0, Outcome: channels.OutcomeDeleted, RemoteID: id, Note: "hidden from the public archive; mails already sent cannot be taken back"}
	if stopped > 0 {
		res.Note += fmt.Sprintf("; %d supporters not yet mailed will not be", stopped)
	}
	err = s.archive.Hide(ctx, id, w.Reason)
	switch {
	case errors.Is(err, archive.ErrNotFound):
		res.Outcome, res.Note = channels.OutcomeGone, "not in the archive"
	case err != nil:
		return nil, channels.Temporary(err)
	}
	return []channels.PartResult{res}, nil
}

// PlanCorrection says what correcting the newsletter does, and to how many
// supporters a correction mail would go.
func (s *Sender) PlanCorrection(ctx context.Context, postID string, _ []channels.Part) (channels.CorrectionPlan, error) {
	n, err := s.ledger.counts(ctx, "post:"+postID)
	if err != nil {
		return channels.CorrectionPlan{}, err
	}
	if n[rcptSent] == 0 {
		return channels.CorrectionPlan{Refusal: "no newsletter of this post was mailed (it went out in a digest, or not at all): nothing to correct"}, nil
	}
	return channels.CorrectionPlan{How: "a sent mail cannot change: the archive copy is corrected and says \"Corrected on DATE: WHAT\"; you may also send a short correction mail to exactly the supporters who received the original",
		MailOptional: true, Recipients: n[rcptSent]}, nil
}

// exists reports whether a send was ever started.
func (l *ledger) exists(ctx context.Context, sendID string) (bool, error) {
	var one int
	err := l.db.QueryRowContext(ctx, `SELECT 1 FROM email_sends WHERE id = $1`, sendID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading send %s: %w", sendID, err)
	}
	return true, nil
}

// stop skips a send's recipients not yet mailed (nor in hand: an attempt
// holding some finishes them) and returns how many.
func (l *ledger) stop(ctx context.Context, sendID string) (int64, error) {
	res, err := l.db.ExecContext(ctx, `UPDATE email_recipients SET state = $1, last_error = 'withdrawn' WHERE send_id = $2 AND state = $3`,
		rcptSkipped, sendID, rcptPending)
	if err != nil {
		return 0, fmt.Errorf("stopping send %s: %w", sendID, err)
	}
	return res.RowsAffected()
}
