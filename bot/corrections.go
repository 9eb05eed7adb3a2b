package bot

// Corrections and withdrawals of published posts (issue 23) as durable
// jobs, one per (post, channel, revision), run like deliveries: retried on
// outages, rescued after a kill, never applied twice (each channel's
// Corrector and Withdrawer find their own earlier work on the network).
// The history of each is in the store (store.Correction).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// CorrectionArgs is the job that corrects or withdraws one post on one
// channel, for one revision of the post's corrections.
type CorrectionArgs struct {
	PostID   string `json:"post_id"`
	Channel  string `json:"channel"`
	Revision int    `json:"revision"`
}

// Kind names the job in River's table.
func (CorrectionArgs) Kind() string { return "crier.correction" }

type correctionWorker struct {
	river.WorkerDefaults[CorrectionArgs]
	b *Bot
}

func (w *correctionWorker) Timeout(*river.Job[CorrectionArgs]) time.Duration {
	return w.b.opts.Delivery.Timeout
}

// NextRetry retries a rescued job at once, as a delivery's.
func (w *correctionWorker) NextRetry(job *river.Job[CorrectionArgs]) time.Time {
	if job.AttemptedAt != nil && time.Since(*job.AttemptedAt) >= w.b.rescueAfter {
		return time.Now()
	}
	return time.Time{}
}

func (w *correctionWorker) Work(ctx context.Context, job *river.Job[CorrectionArgs]) error {
	return w.b.correct(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// CorrectRequest is one correction of a published post.
type CorrectRequest struct {
	PostID string
	// Corrected is the post as it should read; its id, source and date
	// are the published post's whatever it says.
	Corrected post.Post
	// Note says what was corrected, in the organiser's words.
	Note string
	// Channels limits the correction (all the post went out on when empty).
	Channels []string
	Styles   map[string]channels.CorrectionStyle
	// Mail sends the newsletter's correction mail to the original recipients.
	Mail bool
	By   string
	// Pending waits for an editor's ApproveCorrection.
	Pending bool
}

// WithdrawRequest is one withdrawal of a post.
type WithdrawRequest struct {
	PostID   string
	Channels []string // all the post went out on when empty
	Reason   string
	By       string
}

var errNothingChanged = errors.New("the corrected post reads as the published one and no note says what was corrected: nothing to correct")

// Correct records a correction and, unless it waits for approval, queues
// one job per channel the post went out on. A channel whose delivery has
// not been sent yet gets the corrected post when it is sent instead.
func (b *Bot) Correct(ctx context.Context, r CorrectRequest) (int, error) {
	now := b.now()
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("correcting %s: %w", r.PostID, err)
	}
	defer tx.Rollback()
	sp, err := b.store.HoldPostTx(ctx, tx, r.PostID)
	if err != nil {
		return 0, err
	}
	if sp.State != store.PostPublished {
		return 0, fmt.Errorf("%s is %s, not published: %s", r.PostID, sp.State, notPublishedHint(sp.State))
	}
	targets, err := b.targets(ctx, tx, r.PostID, r.Channels)
	if err != nil {
		return 0, err
	}
	if targets, err = withoutWithdrawn(ctx, tx, r.PostID, targets, len(r.Channels) > 0); err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, fmt.Errorf("%s went out on no channel: there is nothing to correct", r.PostID)
	}
	corrected := CorrectedPost(sp.Post, r.Corrected)
	changes := Changes(sp.Post, corrected)
	if len(changes) == 0 && strings.TrimSpace(r.Note) == "" {
		return 0, errNothingChanged
	}
	c := store.Correction{PostID: r.PostID, Kind: store.KindCorrection, By: r.By, Note: strings.TrimSpace(r.Note), Changes: changes,
		Corrected: corrected, Options: store.CorrectionOptions{Styles: r.Styles, Mail: r.Mail}, State: store.CorrectionQueued}
	if r.Pending {
		c.State = store.CorrectionAwaiting
	}
	rev, err := store.AddCorrectionTx(ctx, tx, c, ChannelsOf(targets), now)
	if err != nil {
		return 0, err
	}
	if !r.Pending {
		if err := b.applyCorrectionTx(ctx, tx, corrected, rev, targets, now); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("correcting %s: %w", r.PostID, err)
	}
	b.log.Info("correction queued", "post", r.PostID, "revision", rev, "channels", ChannelsOf(targets), "pending_approval", r.Pending, "by", r.By)
	return rev, nil
}

// ApproveCorrection lets a correction awaiting approval go out.
func (b *Bot) ApproveCorrection(ctx context.Context, postID string, rev int, by string) error {
	now := b.now()
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("approving correction %d of %s: %w", rev, postID, err)
	}
	defer tx.Rollback()
	sp, err := b.store.HoldPostTx(ctx, tx, postID)
	if err != nil {
		return err
	}
	c, err := store.CorrectionTx(ctx, tx, postID, rev)
	if err != nil {
		return err
	}
	// What happened since it was submitted decides: approving it after a
	// withdrawal would publish the post again, after a later correction
	// would undo that one.
	if sp.State != store.PostPublished {
		return fmt.Errorf("correction %d of %s cannot go out: the post is %s now (%s)", rev, postID, sp.State, notPublishedHint(sp.State))
	}
	switch later, err := store.SupersededTx(ctx, tx, postID, rev); {
	case err != nil:
		return err
	case later:
		return fmt.Errorf("correction %d of %s cannot go out: a later correction or withdrawal went out since; correct the post as it reads now instead", rev, postID)
	}
	if err := store.ApproveTx(ctx, tx, postID, rev, by, now); err != nil {
		return err
	}
	rs, err := store.ResultsTx(ctx, tx, postID, rev)
	if err != nil {
		return err
	}
	ds, err := store.DeliveriesTx(ctx, tx, postID)
	if err != nil {
		return err
	}
	var targets []store.Delivery
	for _, d := range ds {
		if slices.ContainsFunc(rs, func(r store.CorrectionResult) bool { return r.Channel == d.Channel }) {
			targets = append(targets, d)
		}
	}
	if err := b.applyCorrectionTx(ctx, tx, c.Corrected, rev, targets, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("approving correction %d of %s: %w", rev, postID, err)
	}
	b.log.Info("correction approved", "post", postID, "revision", rev, "by", by)
	return nil
}

// applyCorrectionTx makes the corrected post the stored one (what an unsent
// delivery will send) and queues a job for each target whose delivery went
// out, or may have; one not sent is done at once.
func (b *Bot) applyCorrectionTx(ctx context.Context, tx *sql.Tx, corrected post.Post, rev int, targets []store.Delivery, now time.Time) error {
	if err := store.SavePostTx(ctx, tx, corrected, store.PostPublished, now); err != nil {
		return err
	}
	if err := store.SetChangedTx(ctx, tx, corrected.ID, nil); err != nil {
		return err
	}
	for _, d := range targets {
		if notSent(d) && d.RemoteID == "" {
			parts, err := store.PartsTx(ctx, tx, d.PostID, d.Channel)
			if err != nil {
				return err
			}
			if len(parts) == 0 {
				r := store.CorrectionResult{PostID: d.PostID, Revision: rev, Channel: d.Channel, State: store.CorrectionDone,
					Note: "not sent yet: it goes out corrected"}
				if err := store.FinishCorrectionTx(ctx, tx, r, now); err != nil {
					return err
				}
				continue
			}
		}
		if err := b.queueCorrection(ctx, tx, CorrectionArgs{PostID: d.PostID, Channel: d.Channel, Revision: rev}); err != nil {
			return err
		}
	}
	return nil
}

// actOnUnsure handles a delivery that may have gone out with nothing known
// of what it sent: a correction waits while the engine finds out (its next
// attempt checks the network); a withdrawal stops further attempts. What a
// person must then check is said in plain words.
func (b *Bot) actOnUnsure(ctx context.Context, log *slog.Logger, a CorrectionArgs, c store.Correction, d store.Delivery, attempt, maxAttempts int) error {
	res := store.CorrectionResult{PostID: a.PostID, Revision: a.Revision, Channel: a.Channel}
	switch {
	case c.Kind == store.KindCorrection && d.State == store.DeliveryPending:
		log.Info("waiting for the delivery's next attempt to find out whether it went out", "delivery", d.State)
		return river.JobSnooze(time.Minute)
	case c.Kind == store.KindCorrection:
		return b.finishCorrection(ctx, log, res, c, attempt, maxAttempts, nil, channels.Permanent(fmt.Errorf(
			"whether the post went out to %s is not known: say so on the post page (It went out / Send again), then correct it again", a.Channel)))
	}
	if err := b.store.SetDeliveryWithdrawn(ctx, a.PostID, a.Channel, b.now()); err != nil {
		return err
	}
	return b.finishCorrection(ctx, log, res, c, attempt, maxAttempts, nil, channels.Permanent(fmt.Errorf(
		"it is not sent again, but an earlier attempt may have put it on %s without Crier learning its id: look there and delete it by hand", a.Channel)))
}

// notSent reports whether a delivery has certainly not gone out (yet):
// pending or failed with every attempt's outcome known. One whose outcome
// is not (an answer lost, a blind sender waiting for an organiser's word)
// may be out, and is not this.
func notSent(d store.Delivery) bool {
	if unsure(d) {
		return false
	}
	return d.State == store.DeliveryPending || d.State == store.DeliveryFailed || d.State == store.DeliveryWithdrawn
}

// unsure reports whether a delivery may have gone out without Crier
// knowing what it sent.
func unsure(d store.Delivery) bool { return d.Unconfirmed || d.WaitsForCheck() }

// Withdraw records a withdrawal and queues one job per channel the post
// went out on; deliveries not sent yet are cancelled at once, and a post
// withdrawn everywhere is never scheduled or sent again.
func (b *Bot) Withdraw(ctx context.Context, r WithdrawRequest) (int, error) {
	now := b.now()
	tx, err := b.store.DB().BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("withdrawing %s: %w", r.PostID, err)
	}
	defer tx.Rollback()
	sp, err := b.store.HoldPostTx(ctx, tx, r.PostID)
	if err != nil {
		return 0, err
	}
	if sp.State == store.PostSeen || sp.State == store.PostDuplicate {
		return 0, fmt.Errorf("%s is %s: it was never sent, so there is nothing to withdraw", r.PostID, sp.State)
	}
	targets, err := b.targets(ctx, tx, r.PostID, r.Channels)
	if err == nil {
		targets, err = withoutSkipped(targets, r.PostID, len(r.Channels) > 0)
	}
	if err != nil {
		return 0, err
	}
	c := store.Correction{PostID: r.PostID, Kind: store.KindWithdrawal, By: r.By, Note: strings.TrimSpace(r.Reason), State: store.CorrectionQueued}
	rev, err := store.AddCorrectionTx(ctx, tx, c, ChannelsOf(targets), now)
	if err != nil {
		return 0, err
	}
	chans := ChannelsOf(targets)
	if len(r.Channels) == 0 || everywhere(ctx, tx, r.PostID, chans) {
		chans = nil // every delivery, and the post itself
	}
	if err := store.WithdrawPostTx(ctx, tx, r.PostID, chans, now); err != nil {
		return 0, err
	}
	for _, d := range targets {
		if err := b.queueCorrection(ctx, tx, CorrectionArgs{PostID: r.PostID, Channel: d.Channel, Revision: rev}); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("withdrawing %s: %w", r.PostID, err)
	}
	b.log.Info("withdrawal queued", "post", r.PostID, "revision", rev, "channels", ChannelsOf(targets), "by", r.By)
	return rev, nil
}

// everywhere reports whether withdrawing from chans leaves the post on no
// channel (the others withdrawn before): the post itself is then
// withdrawn, so no digest, schedule or correction brings it back.
func everywhere(ctx context.Context, tx *sql.Tx, postID string, chans []string) bool {
	ds, err := store.DeliveriesTx(ctx, tx, postID)
	if err != nil {
		return false
	}
	for _, d := range ds {
		if d.State != store.DeliveryWithdrawn && d.State != store.DeliverySkipped && !slices.Contains(chans, d.Channel) {
			return false
		}
	}
	return true
}

// targets are the post's deliveries to the named channels (all when none
// is named).
func (b *Bot) targets(ctx context.Context, tx *sql.Tx, postID string, only []string) ([]store.Delivery, error) {
	ds, err := store.DeliveriesTx(ctx, tx, postID)
	if err != nil {
		return nil, err
	}
	return DeliveriesTo(ds, postID, only)
}

// DeliveriesTo picks the deliveries to the named channels (all when none
// is named); a name the post did not go to is an error naming those it did.
func DeliveriesTo(ds []store.Delivery, postID string, only []string) ([]store.Delivery, error) {
	if len(only) == 0 {
		return ds, nil
	}
	var out []store.Delivery
	for _, name := range only {
		i := slices.IndexFunc(ds, func(d store.Delivery) bool { return d.Channel == name })
		if i < 0 {
			return nil, fmt.Errorf("%s was not sent to a channel named %q (it went to: %s)", postID, name, strings.Join(ChannelsOf(ds), ", "))
		}
		out = append(out, ds[i])
	}
	return out, nil
}

// ChannelsOf names the deliveries' channels.
func ChannelsOf(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Channel
	}
	return out
}

// withoutWithdrawn leaves out the channels the post was withdrawn from
// or skipped on; named, one is an error.
func withoutWithdrawn(ctx context.Context, tx *sql.Tx, postID string, ds []store.Delivery, named bool) ([]store.Delivery, error) {
	gone, err := store.WithdrawnTx(ctx, tx, postID)
	if err != nil {
		return nil, err
	}
	var out []store.Delivery
	for _, d := range ds {
		if slices.Contains(gone, d.Channel) || d.State == store.DeliveryWithdrawn {
			if named {
				return nil, fmt.Errorf("%s was withdrawn from %s: there is nothing there to correct", postID, d.Channel)
			}
			continue
		}
		out = append(out, d)
	}
	return withoutSkipped(out, postID, named)
}

// withoutSkipped leaves out the deliveries skipped by design: nothing went
// out there to correct or withdraw; named, one is an error.
func withoutSkipped(ds []store.Delivery, postID string, named bool) ([]store.Delivery, error) {
	var out []store.Delivery
	for _, d := range ds {
		if d.State != store.DeliverySkipped {
			out = append(out, d)
		} else if named {
			return nil, fmt.Errorf("%s was skipped on %s (%s): nothing went out there to correct or withdraw", postID, d.Channel, d.LastError)
		}
	}
	return out, nil
}

func notPublishedHint(s store.PostState) string {
	switch s {
	case store.PostScheduled, store.PostDraft:
		return "edit the post itself; it goes out as it reads when it is due"
	case store.PostWithdrawn:
		return "it was withdrawn; there is nothing out there to correct"
	default:
		return "only a published post can be corrected"
	}
}

func (b *Bot) queueCorrection(ctx context.Context, tx *sql.Tx, args CorrectionArgs) error {
	if _, err := b.river.InsertTx(ctx, tx, args, b.correctionOpts(args.Channel)); err != nil {
		return fmt.Errorf("queueing correction %d of %s on %s: %w", args.Revision, args.PostID, args.Channel, err)
	}
	return nil
}

func (b *Bot) correctionOpts(channel string) *river.InsertOpts {
	opts := b.deliverOpts(channel)
	if _, ok := b.channels[channel]; !ok {
		opts.Queue = river.QueueDefault // a channel no longer configured: the job says so
	}
	return opts
}

// correct runs one attempt of one correction or withdrawal on one channel
// and records its outcome. Like deliver, the returned error tells River
// what to do next.
func (b *Bot) correct(ctx context.Context, a CorrectionArgs, attempt, maxAttempts int) error {
	log := b.log.With("post", a.PostID, "channel", a.Channel, "revision", a.Revision, "attempt", attempt)
	c, err := b.store.Correction(ctx, a.PostID, a.Revision)
	if err != nil {
		return fmt.Errorf("correcting %s on %s: %w", a.PostID, a.Channel, err)
	}
	res := store.CorrectionResult{PostID: a.PostID, Revision: a.Revision, Channel: a.Channel}
	before, err := b.store.CorrectionResult(ctx, a.PostID, a.Revision, a.Channel)
	if err != nil {
		return err
	}
	switch before.State {
	case store.CorrectionDone, store.CorrectionFailed:
		log.Info("already done; nothing to do", "state", before.State)
		return nil
	case store.CorrectionAwaiting:
		return river.JobCancel(fmt.Errorf("correction %d of %s awaits approval", a.Revision, a.PostID))
	}
	// The channel as it stands now: an account connected or disconnected
	// from the console since the daemon started applies here too.
	ch, ok, err := b.channel(ctx, a.Channel)
	if err != nil {
		return err
	}
	if !ok {
		return b.finishCorrection(ctx, log, res, c, attempt, maxAttempts, nil, channels.Permanent(fmt.Errorf("%q: %w; change the post there by hand", a.Channel, errNoChannel)))
	}
	return b.actOn(ctx, log, a, c, ch, attempt, maxAttempts)
}

// actOn corrects or withdraws what the delivery to ch sent, once it is
// sent; one not sent is done at once (it goes out corrected, or not at all).
func (b *Bot) actOn(ctx context.Context, log *slog.Logger, a CorrectionArgs, c store.Correction, ch channels.Channel, attempt, maxAttempts int) error {
	res := store.CorrectionResult{PostID: a.PostID, Revision: a.Revision, Channel: a.Channel}
	d, err := b.store.Delivery(ctx, a.PostID, a.Channel)
	if err != nil {
		return err
	}
	parts, err := b.store.Parts(ctx, a.PostID, a.Channel)
	if err != nil {
		return err
	}
	begun := len(parts) > 0 || d.RemoteID != "" // a thread or a newsletter partly out
	if d.State == store.DeliverySending || (c.Kind == store.KindCorrection && d.State == store.DeliveryPending && begun) {
		// An attempt is sending it now (or it is partly out): act on what
		// it sent once it is done. A withdrawal stops what it can at once
		// (a newsletter's supporters not yet mailed).
		if c.Kind == store.KindWithdrawal {
			if _, err := b.withdrawOn(ctx, ch, channels.Withdrawal{PostID: a.PostID, Channel: a.Channel, Parts: parts, Reason: c.Note}); err != nil {
				log.Info("withdrawing what can be now; the rest once the delivery in progress ends", "err", err)
			}
		}
		log.Info("waiting for the delivery in progress before acting on it", "delivery", d.State)
		return river.JobSnooze(5 * time.Second)
	}
	if unsure(d) && !begun {
		return b.actOnUnsure(ctx, log, a, c, d, attempt, maxAttempts)
	}
	if notSent(d) && !begun {
		res.State, res.Note = store.CorrectionDone, "not sent yet: it goes out corrected"
		if c.Kind == store.KindWithdrawal {
			if err := b.store.SetDeliveryWithdrawn(ctx, a.PostID, a.Channel, b.now()); err != nil {
				return err
			}
			res.Note = "it had not been sent: the delivery is cancelled"
		}
		return b.finishCorrection(ctx, log, res, c, attempt, maxAttempts, nil, nil)
	}
	if err := b.store.StartCorrection(ctx, a.PostID, a.Revision, a.Channel, b.now()); err != nil {
		return err
	}
	var results []channels.PartResult
	if c.Kind == store.KindWithdrawal {
		if d.State != store.DeliverySent {
			// Half sent: no further part may go out.
			if err := b.store.SetDeliveryWithdrawn(ctx, a.PostID, a.Channel, b.now()); err != nil {
				return err
			}
		}
		if parts, err = b.withCorrectionParts(ctx, a, parts); err != nil {
			return err
		}
		results, err = b.withdrawOn(ctx, ch, channels.Withdrawal{PostID: a.PostID, Channel: a.Channel, Parts: parts, Reason: c.Note})
	} else {
		results, err = b.correctOn(ctx, ch, c, a, attempt, parts)
	}
	res.State = store.CorrectionDone
	if err == nil {
		if err := b.keepReposted(ctx, a, results); err != nil {
			return err
		}
	}
	return b.finishCorrection(ctx, log, res, c, attempt, maxAttempts, results, err)
}

// keepReposted makes the posts a correction posted anew (a Bluesky repost)
// the delivery's parts, in place of those it deleted.
func (b *Bot) keepReposted(ctx context.Context, a CorrectionArgs, results []channels.PartResult) error {
	var parts []channels.Part
	for _, r := range results {
		if r.Outcome == channels.OutcomeReposted {
			parts = append(parts, channels.Part{Index: len(parts), RemoteID: r.RemoteID, RemoteURL: r.RemoteURL})
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return b.store.ReplaceParts(context.WithoutCancel(ctx), a.PostID, a.Channel, parts, b.now())
}

// withCorrectionParts adds to a delivery's parts what earlier corrections
// posted on the channel (a correction reply, a post sent again), after
// them: a withdrawal deletes those too.
func (b *Bot) withCorrectionParts(ctx context.Context, a CorrectionArgs, parts []channels.Part) ([]channels.Part, error) {
	cs, err := b.store.Corrections(ctx, a.PostID)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(parts)
	for i := len(cs) - 1; i >= 0; i-- {
		for _, r := range cs[i].Results {
			if r.Channel != a.Channel || cs[i].Kind != store.KindCorrection {
				continue
			}
			for _, pr := range r.Parts {
				if (pr.Outcome == channels.OutcomeReplied || pr.Outcome == channels.OutcomeReposted) && pr.RemoteID != "" &&
					!slices.ContainsFunc(out, func(p channels.Part) bool { return p.RemoteID == pr.RemoteID }) {
					out = append(out, channels.Part{Index: len(out), RemoteID: pr.RemoteID, RemoteURL: pr.RemoteURL})
				}
			}
		}
	}
	return out, nil
}

func (b *Bot) withdrawOn(ctx context.Context, ch channels.Channel, w channels.Withdrawal) ([]channels.PartResult, error) {
	wd, ok := ch.Sender.(channels.Withdrawer)
	if !ok {
		return nil, channels.Permanent(fmt.Errorf("this channel cannot delete what it sent: delete it by hand"))
	}
	return wd.Withdraw(ctx, w)
}

func (b *Bot) correctOn(ctx context.Context, ch channels.Channel, c store.Correction, a CorrectionArgs, attempt int, parts []channels.Part) ([]channels.PartResult, error) {
	cr, ok := ch.Sender.(channels.Corrector)
	if !ok {
		return nil, channels.Permanent(fmt.Errorf("this channel cannot change what it sent: change it by hand"))
	}
	p := c.Corrected
	var err error
	if b.opts.ResolveMedia != nil {
		if p, err = b.opts.ResolveMedia(p); err != nil {
			return nil, channels.Permanent(fmt.Errorf("the image: %w", err))
		}
	}
	payload, err := ch.Formatter.Format(p)
	if err != nil {
		return nil, channels.Permanent(fmt.Errorf("formatting the corrected post: %w", err))
	}
	return cr.Correct(ctx, channels.Correction{PostID: a.PostID, Channel: a.Channel, Revision: a.Revision, Attempt: attempt, Parts: parts,
		Note: c.Note, Style: c.Options.Styles[a.Channel], Mail: c.Options.Mail, At: c.CreatedAt}, payload)
}

// finishCorrection records an attempt's outcome, as finish does a
// delivery's: done, failed for good (permanent, or the last attempt), or
// queued again (retried with backoff, or snoozed when rate limited).
func (b *Bot) finishCorrection(ctx context.Context, log *slog.Logger, res store.CorrectionResult, c store.Correction, attempt, maxAttempts int, parts []channels.PartResult, opErr error) error {
	ctx = context.WithoutCancel(ctx)
	res.Parts = parts
	if opErr == nil {
		if err := b.store.FinishCorrection(ctx, res, b.now()); err != nil {
			return err
		}
		log.Info(c.Kind+" done", "parts", len(parts), "note", res.Note)
		return nil
	}
	kind, wait := channels.Classify(opErr)
	res.ErrorKind = kind.String()
	res.LastError = fmt.Sprintf("%s: %v", kind, opErr)
	res.State = store.CorrectionQueued
	switch {
	case kind == channels.KindPermanent:
		res.State = store.CorrectionFailed
	case attempt >= maxAttempts && kind != channels.KindRateLimited:
		res.State = store.CorrectionFailed
		res.LastError = fmt.Sprintf("gave up after %d attempts: %s", attempt, res.LastError)
	}
	if err := b.store.FinishCorrection(ctx, res, b.now()); err != nil {
		return err
	}
	log.Warn(c.Kind+" attempt failed", "kind", kind.String(), "state", res.State, "err", opErr)
	switch {
	case kind == channels.KindPermanent:
		return river.JobCancel(opErr)
	case kind == channels.KindRateLimited:
		return river.JobSnooze(retryWait(wait))
	default:
		return opErr
	}
}

// requeueCorrections gives every queued correction result a job again
// (its job may have ended with the process that ran it); unique options
// make this a no-op for those whose job lives.
func (b *Bot) requeueCorrections(ctx context.Context) error {
	rs, err := b.store.UnfinishedCorrections(ctx)
	if err != nil {
		return err
	}
	for _, r := range rs {
		args := CorrectionArgs{PostID: r.PostID, Channel: r.Channel, Revision: r.Revision}
		res, err := b.river.Insert(ctx, args, b.correctionOpts(r.Channel))
		if err != nil {
			return fmt.Errorf("re-queueing correction %d of %s on %s: %w", r.Revision, r.PostID, r.Channel, err)
		}
		if !res.UniqueSkippedAsDuplicate {
			b.log.Warn("re-queued a correction whose job had ended unfinished", "post", r.PostID, "channel", r.Channel, "revision", r.Revision)
		}
	}
	return nil
}

// Corrections lists a post's corrections and withdrawals, newest first.
func (b *Bot) Corrections(ctx context.Context, postID string) ([]store.Correction, error) {
	return b.store.Corrections(ctx, postID)
}

// Channel returns the channel of that name as it stands now (an account
// connected or disconnected from the console applies); if that cannot be
// read, as configured.
func (b *Bot) Channel(ctx context.Context, name string) (channels.Channel, bool) {
	ch, ok, err := b.channel(ctx, name)
	if err != nil {
		return b.channels[name], ok
	}
	return ch, ok
}

// CorrectedPost is the published post p as corrected reads: the content is
// corrected's, the identity, source and date stay p's.
func CorrectedPost(p, corrected post.Post) post.Post {
	c := corrected
	c.ID, c.PublishAt, c.Example, c.Update, c.Draft = p.ID, p.PublishAt, p.Example, p.Update, false
	hash := corrected.Source.Hash
	c.Source = p.Source
	if hash != "" && corrected.Source.Kind == p.Source.Kind {
		c.Source.Hash = hash // read from the changed source (its file, its feed)
	}
	return c
}

// Changes names the fields a reader sees that differ between p and c.
func Changes(p, c post.Post) []string {
	var out []string
	add := func(name string, differ bool) {
		if differ {
			out = append(out, name)
		}
	}
	add("title", p.Title != c.Title)
	add("summary", p.Summary != c.Summary)
	add("text", p.Body != c.Body)
	add("link", p.Link != c.Link)
	add("tags", !slices.Equal(p.Tags, c.Tags))
	add("image", imageOf(p.Image) != imageOf(c.Image))
	add("content warning", p.ContentWarning != c.ContentWarning)
	add("language", p.Language != c.Language)
	add("per-channel text", !sameOverrides(p.Channels, c.Channels))
	return out
}

func imageOf(i *post.Image) post.Image {
	if i == nil {
		return post.Image{}
	}
	return *i
}

func sameOverrides(a, b map[string]post.Override) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
