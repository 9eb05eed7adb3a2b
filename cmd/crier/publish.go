package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/channels"
)

func cmdPublish(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "publish", "POST.md [--channel NAME]...", `
Queues a post file for delivery now, whatever its publish_at or draft flag
says. The running daemon (or the next one started) delivers it. A channel the
post was already delivered to is not sent again.`)
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
	b, err := bot.New(ctx, bot.Options{Store: st, Channels: chans, Delivery: app.Config.Delivery, Schedules: app.Config.Schedules, Location: app.Config.Location(), Logger: app.Logger})
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
