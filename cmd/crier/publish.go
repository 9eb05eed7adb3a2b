package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

func cmdPublish(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "publish", "POST.md [--channel NAME]...", `
Queues a post file for delivery now, whatever its publish_at or draft flag
says. The running daemon (or the next one started) delivers it. A channel the
post was already delivered to is not sent again. With --channel, a post in the
posts folder goes to the other channels when it falls due; a file from
anywhere else goes only to the channels named.`)
	var only stringList
	fs.Var(&only, "channel", "deliver only to this `channel` (repeatable)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return usageError{"give exactly one post file"}
	}
	p, err := app.postReader().ParseFile(rest[0])
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return err
	}
	if err := app.markConnected(ctx, chans); err != nil {
		return err
	}
	b, err := bot.New(ctx, bot.Options{Store: st, Channels: chans, MarkdownDir: app.Config.Resolve(app.Config.Sources.Markdown.Dir),
		Delivery: app.Config.Delivery, Schedules: app.Config.Schedules, Location: app.Config.Location(), Logger: app.Logger})
	if err != nil {
		return err
	}
	names := b.ChannelNames()
	for _, name := range only {
		if !slices.Contains(names, name) {
			return usageError{fmt.Sprintf("channel %q is not enabled (enabled: %s)", name, strings.Join(names, ", "))}
		}
	}
	var queued []string
	if len(only) == 0 {
		// Everywhere, now: whatever the file says about draft or publish_at.
		p.Draft = false
		p.PublishAt = time.Now().UTC().Truncate(time.Second)
		queued, err = b.Publish(ctx, p)
	} else {
		// Some channels now; the others keep to the post's schedule.
		queued, err = b.PublishTo(ctx, p, only)
	}
	var dup *bot.DuplicateError
	if errors.As(err, &dup) {
		fmt.Fprintf(app.Stdout, "%s: not queued: %s (same link) was already published; `crier status` shows it as a duplicate. Give the post another link to send it anyway.\n", p.ID, dup.Of)
		return nil
	}
	if err != nil {
		return err
	}
	for _, inst := range channels.Enabled(app.Instances) {
		if digest, note := inst.DigestOnly(); digest && (len(only) == 0 || slices.Contains(only, inst.Name)) {
			fmt.Fprintf(app.Stdout, "%s: %s\n", p.ID, note)
		}
	}
	if len(queued) == 0 {
		if p.Example && b.SendsForReal() {
			fmt.Fprintf(app.Stdout, "%s: an example post (example: true) is never sent for real; remove that line to send it\n", p.ID)
			return nil
		}
		fmt.Fprintf(app.Stdout, "%s: nothing to queue (already delivered, or skipped by the post)\n", p.ID)
		return nil
	}
	fmt.Fprintf(app.Stdout, "%s: queued for %s; `crier status` shows progress\n", p.ID, strings.Join(queued, ", "))
	return nil
}

func cmdRetry(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "retry", "POST [--channel NAME]...", `
Queues the failed deliveries of a post again (POST is its id as crier status
shows it, such as md:vigil-saturday), to every channel where it failed or
only those named. The running daemon (or the next one started) delivers
them. A delivery whose outcome is unknown is retried too: its sender first
checks whether the earlier attempt arrived. Deliveries already sent are
never sent again.`)
	var only stringList
	fs.Var(&only, "channel", "retry only this `channel` (repeatable)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return usageError{"give exactly one post id (crier status lists them)"}
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return err
	}
	if err := app.markConnected(ctx, chans); err != nil {
		return err
	}
	b, err := bot.New(ctx, bot.Options{Store: st, Channels: chans, Delivery: app.Config.Delivery, Schedules: app.Config.Schedules, Logger: app.Logger})
	if err != nil {
		return err
	}
	names := b.ChannelNames()
	for _, name := range only {
		if !slices.Contains(names, name) {
			return usageError{fmt.Sprintf("channel %q is not enabled (enabled: %s)", name, strings.Join(names, ", "))}
		}
	}
	queued, err := b.Retry(ctx, rest[0], only)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no post %q; `crier status` lists the post ids", rest[0])
	}
	if err != nil {
		return err
	}
	if len(queued) == 0 {
		return fmt.Errorf("%s has no failed delivery%s to retry; `crier status` shows its deliveries", rest[0], channelsSuffix(only))
	}
	fmt.Fprintf(app.Stdout, "%s: queued again for %s; `crier status` shows progress\n", rest[0], strings.Join(queued, ", "))
	return nil
}

func channelsSuffix(only []string) string {
	if len(only) == 0 {
		return ""
	}
	return " to " + strings.Join(only, ", ")
}
