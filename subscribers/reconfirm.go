package subscribers

import (
	"context"
	"fmt"
	"time"
)

// ReconfirmEvery is how long an organiser waits between two restore
// requests for one supporter: each one mails them.
const ReconfirmEvery = 10 * time.Minute

// Reconfirm is how an organiser restores a supporter a bounce dropped:
// it mails them a fresh confirmation link and keeps the request as
// pending, so nothing about their status or consent changes until they
// follow the link (then Confirm records it as a new consent event, with
// source). Only a bounced supporter can be restored this way; someone who
// unsubscribed or complained asked to leave.
func (n *Newsletter) Reconfirm(ctx context.Context, id int64, publicURL, source string, now time.Time) error {
	sub, err := n.Store.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("restoring subscriber %d: %w", id, err)
	}
	if sub.Status != Bounced {
		return fmt.Errorf("restoring subscriber %d: %w: only a bounced supporter can be restored (this one is %s)", id, ErrInvalid, sub.Status)
	}
	claimed, err := n.Store.ClaimConfirmationMail(ctx, id, now, ReconfirmEvery)
	if err != nil {
		return err
	}
	if !claimed {
		return fmt.Errorf("restoring subscriber %d: %w: a confirmation mail went to them less than %s ago", id, ErrInvalid, ReconfirmEvery)
	}
	if err := n.Store.SetPending(ctx, id, Pending{Name: sub.Name, At: now, Source: source}); err != nil {
		n.Store.ReleaseConfirmationMail(ctx, id)
		return err
	}
	if err := n.Mailer.SendConfirmation(ctx, sub, n.Signer.ConfirmURL(publicURL, sub, now)); err != nil {
		n.Store.ReleaseConfirmationMail(ctx, id)
		return fmt.Errorf("restoring subscriber %d: sending the confirmation mail: %w", id, err)
	}
	return nil
}
