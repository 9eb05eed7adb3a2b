package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/web/console"
)

// consoleCorrections is the console's Corrections (web/console/hooks.go):
// the bot's correction jobs, the channels' plans and the store's history.
type consoleCorrections struct {
	app *App
	bot *bot.Bot
	st  *store.Store
}

var _ console.Corrections = (*consoleCorrections)(nil)

// Options says per channel the post went out on what a correction would do.
func (c *consoleCorrections) Options(ctx context.Context, postID string) ([]console.CorrectionChannel, error) {
	if _, err := c.st.Post(ctx, postID); err != nil {
		return nil, err
	}
	ds, err := c.st.Deliveries(ctx, postID)
	if err != nil {
		return nil, err
	}
	hist, err := c.st.Corrections(ctx, postID)
	if err != nil {
		return nil, err
	}
	out := make([]console.CorrectionChannel, 0, len(ds))
	for _, d := range ds {
		inst, _ := c.app.instance(d.Channel)
		cc := console.CorrectionChannel{Channel: d.Channel, Type: inst.Type}
		plan, err := c.plan(ctx, d)
		if err != nil {
			return nil, err
		}
		if withdrawnFrom(hist, d.Channel) {
			plan = channels.CorrectionPlan{Refusal: "withdrawn from this channel: nothing is out there"}
		}
		cc.How, cc.Styles, cc.Refusal = plan.How, plan.Styles, plan.Refusal
		cc.MailOptional, cc.Recipients = plan.MailOptional, plan.Recipients
		if ch, ok := c.bot.Channel(ctx, d.Channel); ok && cc.Refusal == "" {
			_, cc.CanCorrect = ch.Sender.(channels.Corrector)
			_, cc.CanWithdraw = ch.Sender.(channels.Withdrawer)
		}
		out = append(out, cc)
	}
	return out, nil
}

// withdrawnFrom reports whether a withdrawal in hist reached channel.
func withdrawnFrom(hist []store.Correction, channel string) bool {
	for _, c := range hist {
		for _, r := range c.Results {
			if c.Kind == store.KindWithdrawal && r.Channel == channel {
				return true
			}
		}
	}
	return false
}

// plan is what correcting one delivery would do, in plain words.
func (c *consoleCorrections) plan(ctx context.Context, d store.Delivery) (channels.CorrectionPlan, error) {
	ch, ok := c.bot.Channel(ctx, d.Channel)
	switch {
	case !ok:
		return channels.CorrectionPlan{Refusal: "this channel is no longer enabled: change the post there by hand"}, nil
	case d.State == store.DeliveryWithdrawn:
		return channels.CorrectionPlan{Refusal: "withdrawn before it was sent: nothing is out there"}, nil
	case d.State == store.DeliverySkipped:
		return channels.CorrectionPlan{Refusal: "skipped: nothing went out on " + d.Channel + " (" + d.LastError + ")"}, nil
	case d.State == store.DeliveryPending || d.State == store.DeliveryFailed:
		return channels.CorrectionPlan{How: "not sent yet: it goes out corrected"}, nil
	}
	parts, err := c.st.Parts(ctx, d.PostID, d.Channel)
	if err != nil {
		return channels.CorrectionPlan{}, err
	}
	if pl, ok := ch.Sender.(channels.CorrectionPlanner); ok {
		return pl.PlanCorrection(ctx, d.PostID, parts)
	}
	// A channel that corrects without saying how (no CorrectionPlanner).
	_, corrects := ch.Sender.(channels.Corrector)
	_, withdraws := ch.Sender.(channels.Withdrawer)
	if !corrects && !withdraws {
		return channels.CorrectionPlan{Refusal: "this channel cannot change what it sent: change it by hand"}, nil
	}
	return channels.PlanOf("what it sent is corrected on the network, as far as the network allows", nil, parts), nil
}

// Correct queues a correction (or records it awaiting approval).
func (c *consoleCorrections) Correct(ctx context.Context, r console.CorrectionRequest) (int, error) {
	return c.bot.Correct(ctx, bot.CorrectRequest{PostID: r.PostID, Corrected: r.Corrected, Note: r.Note, Channels: r.Channels,
		Styles: r.Styles, Mail: r.Mail, By: r.By, Pending: r.Pending})
}

// Approve lets a pending correction go out.
func (c *consoleCorrections) Approve(ctx context.Context, postID string, revision int, by string) error {
	return c.bot.ApproveCorrection(ctx, postID, revision, by)
}

// Withdraw queues a withdrawal.
func (c *consoleCorrections) Withdraw(ctx context.Context, r console.WithdrawRequest) error {
	_, err := c.bot.Withdraw(ctx, bot.WithdrawRequest{PostID: r.PostID, Channels: r.Channels, Reason: r.Reason, By: r.By})
	return err
}

// History lists the post's corrections and withdrawals, newest first.
func (c *consoleCorrections) History(ctx context.Context, postID string) ([]console.CorrectionRecord, error) {
	cs, err := c.st.Corrections(ctx, postID)
	if err != nil {
		return nil, err
	}
	out := make([]console.CorrectionRecord, 0, len(cs))
	for _, cr := range cs {
		rec := console.CorrectionRecord{Kind: cr.Kind, Revision: cr.Revision, By: cr.By, At: cr.CreatedAt, Note: historyNote(cr), State: cr.State}
		if cr.Kind == store.KindCorrection {
			corrected := cr.Corrected // what an editor reads before approving it
			rec.Corrected = &corrected
		}
		for _, r := range cr.Results {
			rec.Results = append(rec.Results, console.CorrectionResult{Channel: r.Channel, State: r.State, Parts: r.Parts, Error: resultError(r), Note: r.Note})
		}
		out = append(out, rec)
	}
	return out, nil
}

// historyNote is the organiser's note, with what the correction changed.
func historyNote(c store.Correction) string {
	note := c.Note
	if len(c.Changes) > 0 {
		changed := "changed: " + strings.Join(c.Changes, ", ")
		if note == "" {
			return changed
		}
		note += " (" + changed + ")"
	}
	if c.ApprovedBy != "" {
		note += "; approved by " + c.ApprovedBy
	}
	return note
}

// resultError says what went wrong on a channel, and what to do by hand.
func resultError(r store.CorrectionResult) string {
	switch {
	case r.State == store.CorrectionFailed:
		return r.LastError + ": change or delete it by hand on the network"
	case r.LastError != "":
		return "retrying: " + r.LastError
	default:
		return ""
	}
}

// Changed reports whether the post's source changed since it was published.
func (c *consoleCorrections) Changed(ctx context.Context, postID string) (bool, post.Post, error) {
	sp, err := c.st.Post(ctx, postID)
	if err != nil {
		return false, post.Post{}, err
	}
	return bot.Changed(ctx, c.st, c.app.postReader(), sp)
}

// correctionError explains the store's not-found in the CLI's words.
func correctionError(postID string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no post %q; `crier status` lists the post ids", postID)
	}
	return err
}
