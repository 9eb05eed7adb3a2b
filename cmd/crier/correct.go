package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

func cmdCorrect(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "correct", "POST [--channel NAME]... [--note TEXT] [--style reply|repost] [--mail] [--yes]", `
Corrects a published post everywhere it went out, to how its source reads
now: its Markdown file (POST may be the file or its id, as crier status shows
it), or its feed item as the last poll saw it. Mastodon and Discord edit in
place; Bluesky cannot edit, so a reply says what was corrected (--style
repost deletes the post and posts it again, losing its likes and replies);
the newsletter's archive copy says "Corrected on DATE: WHAT", and --mail
also mails the correction to exactly the supporters who received the
original. A channel not sent to yet simply sends the corrected post. It asks
for confirmation naming each channel (--yes for scripts); the running daemon
does the work, and crier status shows each channel's result.`)
	var only stringList
	fs.Var(&only, "channel", "correct only on this `channel` (repeatable)")
	note := fs.String("note", "", "what was corrected, in your words (Bluesky's reply and the newsletter say it)")
	style := fs.String("style", "", "on networks that cannot edit (Bluesky): reply (default) or repost")
	mail := fs.Bool("mail", false, "also mail the correction to the newsletter's original recipients")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return usageError{"give exactly one post (its id from crier status, or its file)"}
	}
	var styles map[string]channels.CorrectionStyle
	switch *style {
	case "", string(channels.CorrectByReply), string(channels.CorrectByRepost):
	default:
		return usageError{fmt.Sprintf("--style %q: must be reply or repost", *style)}
	}
	b, st, err := app.offlineBot(ctx)
	if err != nil {
		return err
	}
	sp, corrected, err := app.correctedSource(ctx, st, rest[0])
	if err != nil {
		return err
	}
	targets, err := correctTargets(ctx, st, sp.Post.ID, only)
	if err != nil {
		return err
	}
	if *style != "" {
		styles = map[string]channels.CorrectionStyle{}
		for _, d := range targets {
			styles[d.Channel] = channels.CorrectionStyle(*style)
		}
	}
	if len(bot.Changes(sp.Post, bot.CorrectedPost(sp.Post, corrected))) == 0 && strings.TrimSpace(*note) == "" {
		return fmt.Errorf("%s reads as it was published (%s): change it first, or say with --note what the correction says", sp.Post.ID, sourceName(sp.Post))
	}
	what := make([]string, len(targets))
	for i, d := range targets {
		what[i] = d.Channel + " (" + correctPlan(d) + ")"
	}
	if !*yes && !app.confirm(fmt.Sprintf("Correct %s on %s?", sp.Post.ID, strings.Join(what, ", "))) {
		return errors.New("not corrected")
	}
	rev, err := b.Correct(ctx, bot.CorrectRequest{PostID: sp.Post.ID, Corrected: corrected, Note: *note, Channels: bot.ChannelsOf(targets),
		Styles: styles, Mail: *mail, By: cliActor()})
	if err != nil {
		return correctionError(sp.Post.ID, err)
	}
	fmt.Fprintf(app.Stdout, "%s: correction %d queued for %s; the daemon sends it, `crier status` shows each channel's result\n", sp.Post.ID, rev, strings.Join(bot.ChannelsOf(targets), ", "))
	return nil
}

func cmdWithdraw(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "withdraw", "POST [--channel NAME]... [--reason TEXT] [--yes]", `
Withdraws a post (POST is its id, as crier status shows it): deletes it on
Mastodon (every post of the thread), Discord and Bluesky, hides the
newsletter from the public archive with the reason, and cancels every
delivery of it not sent yet; without --channel, the post is never scheduled
or sent again. Mails already sent cannot be taken back. It asks for
confirmation naming each channel (--yes for scripts); the running daemon
does the work, and crier status shows each channel's result.`)
	var only stringList
	fs.Var(&only, "channel", "withdraw only from this `channel` (repeatable)")
	reason := fs.String("reason", "", "why, for the history and the archive")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return usageError{"give exactly one post id (crier status lists them)"}
	}
	b, st, err := app.offlineBot(ctx)
	if err != nil {
		return err
	}
	sp, err := app.storedPost(ctx, st, rest[0])
	if err != nil {
		return err
	}
	targets, err := correctTargets(ctx, st, sp.Post.ID, only)
	if err != nil {
		return err
	}
	what := make([]string, len(targets))
	for i, d := range targets {
		what[i] = d.Channel + " (" + withdrawPlan(d) + ")"
	}
	question := fmt.Sprintf("Withdraw %s from %s?", sp.Post.ID, strings.Join(what, ", "))
	if len(targets) == 0 {
		question = fmt.Sprintf("Withdraw %s (%s, sent nowhere yet) so it is never sent?", sp.Post.ID, sp.State)
	}
	if !*yes && !app.confirm(question) {
		return errors.New("not withdrawn")
	}
	rev, err := b.Withdraw(ctx, bot.WithdrawRequest{PostID: sp.Post.ID, Channels: only, Reason: *reason, By: cliActor()})
	if err != nil {
		return correctionError(sp.Post.ID, err)
	}
	fmt.Fprintf(app.Stdout, "%s: withdrawal %d queued; the daemon deletes it, `crier status` shows each channel's result\n", sp.Post.ID, rev)
	return nil
}

// offlineBot is the bot of the enabled channels' formatters, enough to
// queue jobs the daemon runs.
func (app *App) offlineBot(ctx context.Context) (*bot.Bot, *store.Store, error) {
	st, err := app.OpenStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return nil, nil, err
	}
	b, err := bot.New(ctx, bot.Options{Store: st, Channels: chans, Delivery: app.Config.Delivery, Schedules: app.Config.Schedules,
		Location: app.Config.Location(), Logger: app.Logger})
	return b, st, err
}

// storedPost finds a post by id, or by its file.
func (app *App) storedPost(ctx context.Context, st *store.Store, arg string) (store.StoredPost, error) {
	id := arg
	if strings.HasSuffix(strings.ToLower(arg), ".md") {
		if _, err := os.Stat(arg); err == nil {
			p, err := app.postReader().ParseFile(arg)
			if err != nil {
				return store.StoredPost{}, err
			}
			id = p.ID
		}
	}
	sp, err := st.Post(ctx, id)
	if err != nil {
		return sp, correctionError(id, err)
	}
	return sp, nil
}

// correctedSource is the stored post and how its source reads now.
func (app *App) correctedSource(ctx context.Context, st *store.Store, arg string) (store.StoredPost, post.Post, error) {
	sp, err := app.storedPost(ctx, st, arg)
	if err != nil {
		return sp, post.Post{}, err
	}
	if sp.State != store.PostPublished {
		return sp, post.Post{}, fmt.Errorf("%s is %s, not published: nothing went out to correct", sp.Post.ID, sp.State)
	}
	_, now, err := bot.Changed(ctx, st, app.postReader(), sp)
	if err != nil {
		return sp, post.Post{}, fmt.Errorf("reading how %s reads now: %w", sp.Post.ID, err)
	}
	return sp, now, nil
}

func sourceName(p post.Post) string {
	if p.Source.Kind == "feed" {
		return "its feed item is unchanged"
	}
	if p.Source.Ref != "" {
		return p.Source.Ref + " is unchanged"
	}
	return "no source file"
}

// correctTargets are the post's deliveries to the named channels (all when
// none is named).
func correctTargets(ctx context.Context, st *store.Store, postID string, only []string) ([]store.Delivery, error) {
	ds, err := st.Deliveries(ctx, postID)
	if err != nil {
		return nil, err
	}
	out, err := bot.DeliveriesTo(ds, postID, only)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return out, nil
}

func correctPlan(d store.Delivery) string {
	switch {
	case d.State == store.DeliveryWithdrawn:
		return "withdrawn: nothing to correct"
	case d.State == store.DeliverySkipped:
		return "skipped: nothing went out on " + d.Channel
	case d.Outbox:
		return "written to the outbox"
	case d.State == store.DeliveryPending || d.State == store.DeliveryFailed:
		return "not sent yet: it goes out corrected"
	default:
		return "corrected there"
	}
}

func withdrawPlan(d store.Delivery) string {
	switch {
	case d.State == store.DeliverySkipped:
		return "skipped: nothing went out on " + d.Channel
	case d.Outbox:
		return "written to the outbox"
	case d.State == store.DeliveryPending || d.State == store.DeliveryFailed || d.State == store.DeliveryWithdrawn:
		return "not sent: cancelled"
	default:
		return "deleted there"
	}
}

// confirm asks question on the terminal and reads y or yes.
func (app *App) confirm(question string) bool {
	in := app.Stdin
	if in == nil {
		in = os.Stdin
	}
	fmt.Fprintf(app.Stdout, "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}

// cliActor names who corrected from the command line, for the history.
func cliActor() string {
	if u := os.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}
